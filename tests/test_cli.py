import subprocess
import sys

from asq_hw.cli import COMMANDS, main


def test_help_lists_every_command(capsys):
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_demo_first_section_levels_and_worked_example():
    # The whole demo is tests/test_demo.py (slow); its golden first section is checked here.
    from asq_hw.commands.demo import level_table, worked_example
    out = level_table() + "\n" + worked_example()
    assert "wbits 4: 15 levels, J =  3: 1.0000, 0.7071, 0.5000" in out
    assert "lut  (F=8, acc_bits=22): A = 27212" in out
    assert "dual (acc_bits=14): A_even = -4, A_odd = 156" in out


def test_console_script_reports_user_errors_in_one_line():
    proc = subprocess.run([sys.executable, "-m", "asq_hw.cli", "no-such-command"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr
