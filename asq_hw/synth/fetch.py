"""`python -m asq_hw.synth.fetch`: make the OSU 0.18 um library available (liberty.main).

Prints the folder holding it; fetches Debian's package into the cache if it is not found.
Its own module (not liberty.py) because `python -m` on a module the package already
imported would run a second copy of it.
"""

import sys

from asq_hw.synth.liberty import main

if __name__ == "__main__":
    sys.exit(main())
