"""The entrance-door relay: an LCUS USB relay module or one output of a locker board."""

from devices.relay.base import MAX_OPEN_SECONDS, DoorRelay
from devices.relay.board_channel import BoardChannelRelay
from devices.relay.driver import LcusRelay
from devices.relay.errors import (
    RelayChecksumError,
    RelayConfigError,
    RelayError,
    RelayFrameError,
    RelayOffline,
    RelayStuck,
)
from devices.relay.simulator import RelaySimulator

__all__ = [
    "MAX_OPEN_SECONDS",
    "BoardChannelRelay",
    "DoorRelay",
    "LcusRelay",
    "RelayChecksumError",
    "RelayConfigError",
    "RelayError",
    "RelayFrameError",
    "RelayOffline",
    "RelayStuck",
    "RelaySimulator",
]
