"""Atomic, durable file writes shared by the scan store and the audit anchor.

temp file in the same directory → write → fsync → rename → fsync the directory: after the call
returns the new content survives a power cut, and at no moment can a reader see half a file.
ENOSPC (or EDQUOT) becomes ``DiskFull`` and the temp file is removed, so nothing half-written stays.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path

from locker.errors import DiskFull, StoreError

_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically and durably."""
    directory = path.parent
    tmp = directory / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(directory)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if exc.errno in _NO_SPACE:
            raise DiskFull(
                f"no space left on the device holding {directory} while writing {path.name} "
                f"({len(data)} bytes); free space or enlarge the partition — nothing was written"
            ) from exc
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc


def unlink_durably(paths: list[Path]) -> None:
    """Remove files (missing ones are fine) and fsync each directory once."""
    dirs: set[Path] = set()
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            continue
        dirs.add(p.parent)
    for d in dirs:
        fsync_dir(d)
