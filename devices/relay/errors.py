"""Errors of the entrance-door relay, each also in its category of the one exception tree."""

from __future__ import annotations

from devices.errors import ConfigError, DeviceError, DeviceOffline, HardwareError, ProtocolError, Recovery


class RelayError(DeviceError):
    """Anything the door relay or its driver reports."""

    code = "relay.error"


class RelayFrameError(RelayError, ProtocolError):
    """Bytes that are not an LCUS command or status answer."""

    code = "relay.frame"


class RelayChecksumError(RelayError, ProtocolError):
    """An LCUS command whose check byte is not A0 + channel + operation."""

    code = "relay.checksum"


class RelayConfigError(RelayError, ConfigError):
    """A channel the module does not have, or an open time outside the allowed range."""

    recovery = Recovery.MAINTENANCE
    code = "relay.config"


class RelayOffline(RelayError, DeviceOffline):
    """The relay module's port is gone or the module does not answer its status query."""

    code = "relay.offline"


class RelayStuck(RelayError, HardwareError):
    """The module reports a relay state other than the one just commanded."""

    recovery = Recovery.STAFF
    code = "relay.stuck"
