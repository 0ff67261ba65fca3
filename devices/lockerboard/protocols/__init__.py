"""Locker-board protocol families by configuration name (``boards = {0: "cu48"}``)."""

from __future__ import annotations

from devices.lockerboard.errors import LockerConfigError
from devices.lockerboard.protocols.base import BoardProtocol, sum8
from devices.lockerboard.protocols.cu48 import Cu48Protocol

# Add a family here after writing its one file (protocols/<name>.py).
PROTOCOLS: dict[str, type[BoardProtocol]] = {Cu48Protocol.name: Cu48Protocol}


def get_protocol(name: str) -> BoardProtocol:
    """The codec for a configured protocol name; an unknown name is a configuration error."""
    try:
        return PROTOCOLS[name.lower()]()
    except KeyError:
        raise LockerConfigError(
            f"unknown locker-board protocol {name!r}; known: {sorted(PROTOCOLS)}"
        ) from None


__all__ = ["PROTOCOLS", "BoardProtocol", "Cu48Protocol", "get_protocol", "sum8"]
