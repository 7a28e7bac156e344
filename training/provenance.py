"""Where a run or a measurement came from: the code's commit and the host it ran on.

Written beside every training run (run_info.json) and into every benchmark report, so that a number
can be traced to the code and the machine that produced it (CPU model matters: fp32 vs bf16 speed and
oneDNN kernels differ between Xeon generations)."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def git(*args: str) -> str:
    """Output of a git command in this repository; "unknown" where git or the repository is absent
    (a wheel install, an exported tarball)."""
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def package_version(package: str) -> str:
    """The installed distribution's version; "absent" where it is not installed."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def read_cpuinfo(field: str) -> str:
    """The first core's value of a /proc/cpuinfo field ("model name", "flags"); "" where there is
    none (no such field, or no /proc, e.g. macOS)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return ""
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == field:
            return value.strip()
    return ""


def cpu_name() -> str:
    """The CPU's marketing name where the OS tells it, else its architecture."""
    return read_cpuinfo("model name") or platform.processor() or platform.machine()
