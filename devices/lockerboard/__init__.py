"""RS-485 locker control boards: protocols, the bus driver, the door watcher and the simulator."""

from devices.lockerboard.driver import LockerBus
from devices.lockerboard.errors import (
    DoorJammed,
    LockerAddressError,
    LockerBoardSilent,
    LockerChecksumError,
    LockerConfigError,
    LockerError,
    LockerFrameError,
    LockerPortLost,
    LockOutcomeUnknown,
    LockRefused,
)
from devices.lockerboard.messages import DoorState, OpenAnswer, OpenRequest, StatusAnswer, StatusRequest
from devices.lockerboard.protocols import PROTOCOLS, BoardProtocol, Cu48Protocol, get_protocol
from devices.lockerboard.simulator import LockerSimulator
from devices.lockerboard.watcher import DoorEvent, DoorEventKind, DoorWatcher, wait_door_open

__all__ = [
    "PROTOCOLS",
    "BoardProtocol",
    "Cu48Protocol",
    "DoorEvent",
    "DoorEventKind",
    "DoorJammed",
    "DoorState",
    "DoorWatcher",
    "LockOutcomeUnknown",
    "LockRefused",
    "LockerAddressError",
    "LockerBoardSilent",
    "LockerBus",
    "LockerChecksumError",
    "LockerConfigError",
    "LockerError",
    "LockerFrameError",
    "LockerPortLost",
    "LockerSimulator",
    "OpenAnswer",
    "OpenRequest",
    "StatusAnswer",
    "StatusRequest",
    "get_protocol",
    "wait_door_open",
]
