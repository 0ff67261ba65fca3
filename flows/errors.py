"""Errors the flows layer raises itself (devices and the store have their own)."""

from __future__ import annotations

from devices.errors import ConfigError, KioskError, Recovery


class FlowError(KioskError):
    """A flow was used wrongly (an event in a state that does not take it) or cannot go on."""

    recovery = Recovery.STAFF
    code = "flow.error"


class FlowBusy(FlowError):
    """A flow is already running for someone else at this kiosk."""

    recovery = Recovery.RETRY
    code = "flow.busy"


class GuideError(ConfigError):
    """The service guide data file is missing, unreadable or inconsistent."""

    code = "guide.invalid"
