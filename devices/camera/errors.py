"""Camera errors: each is a ``CameraError`` and the matching category of the shared tree.

A flow only needs the category (offline → out of service, timeout → try again); the ``code`` lets
the screen say "camera" instead of a generic device message.
"""

from __future__ import annotations

from devices.errors import ConfigError, DeviceCancelled, DeviceError, DeviceOffline, DeviceTimeout


class CameraError(DeviceError):
    """Anything the face camera or the document camera reports."""

    code = "camera.error"


class CameraUnavailable(CameraError, DeviceOffline):
    """The source cannot be opened, was unplugged, or stopped delivering frames."""

    code = "camera.unavailable"


class CameraTimeout(CameraError, DeviceTimeout):
    """No new frame arrived within the time-out although the camera is connected."""

    code = "camera.timeout"


class CameraCancelled(CameraError, DeviceCancelled):
    """The caller cancelled a wait for a frame."""

    code = "camera.cancelled"


class CameraConfigError(CameraError, ConfigError):
    """A camera setting in the configuration is impossible (e.g. a FOURCC that is not 4 characters)."""

    code = "camera.config"
