"""The machine line every grading benchmark prints first."""

import os
import platform
from importlib.metadata import version


def machine():
    """Python, platform, CPU model and count, sympy and math-verify."""
    import math_verify  # noqa: F401
    import sympy

    cpu = platform.processor() or "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"python {platform.python_version()} on {platform.platform()}, "
        f"CPU {cpu} x{os.cpu_count()}, sympy {sympy.__version__}, "
        f"math-verify {version('math-verify')}"
    )
