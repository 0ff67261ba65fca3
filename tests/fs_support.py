"""A real, tiny filesystem for the full-disk tests: a tmpfs of a given size, unmounted afterwards.

Why a real mount and not a patched ``os.statvfs``: ENOSPC must come from the kernel in the middle
of a real write, so the store's clean-up after a half-written file is what gets tested.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def tiny_tmpfs(mnt: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (e.g. ``"256k"``, ``"48m"``) on ``mnt``; skip with the reason if refused."""
    mnt.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tiny tmpfs here (needs root): {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
