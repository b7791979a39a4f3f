"""asq-hw: train, export, verify and estimate ASQ + POST quantized networks on hardware."""

from asq_hw.config import PEConfig

__all__ = ["PEConfig"]
__version__ = "0.1.0"
