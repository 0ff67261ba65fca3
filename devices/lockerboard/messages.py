"""Typed messages of every locker-board protocol: what a codec hands out, never integer codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class DoorState(StrEnum):
    """What the door sensor (lock hook switch) of one compartment reports."""

    CLOSED = "closed"
    OPEN = "open"


@dataclass(frozen=True)
class OpenRequest:
    """Host → board: pulse one lock."""

    board: int
    lock: int


@dataclass(frozen=True)
class StatusRequest:
    """Host → board: report every door sensor."""

    board: int


@dataclass(frozen=True)
class OpenAnswer:
    """Board → host: the open command was taken (``accepted``) or refused."""

    board: int
    lock: int
    accepted: bool


@dataclass(frozen=True)
class StatusAnswer:
    """Board → host: the state of every door sensor, keyed by lock number (0-based)."""

    board: int
    doors: dict[int, DoorState] = field(default_factory=dict)


Request = OpenRequest | StatusRequest
Answer = OpenAnswer | StatusAnswer
