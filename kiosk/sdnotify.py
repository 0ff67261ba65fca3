"""systemd's notify protocol (sd_notify), without libsystemd.

The kiosk unit uses Type=notify with WatchdogSec: the app says READY=1 when the first screen is up
and WATCHDOG=1 from the UI main loop, so a frozen UI is restarted by systemd. The protocol is one
datagram per message to the AF_UNIX socket named in $NOTIFY_SOCKET (a leading '@' means the
abstract namespace). Outside systemd there is no socket and every call is a cheap no-op.
"""

from __future__ import annotations

import os
import socket


class Notifier:
    """Sends state lines to systemd; silently does nothing when not started by systemd."""

    def __init__(self, address: str | None = None) -> None:
        self.address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def _target(self) -> str | bytes:
        if self.address.startswith("@"):
            return b"\0" + self.address[1:].encode()
        return self.address

    def send(self, **fields: str | int) -> bool:
        """Send KEY=value lines in one datagram; False when there is no socket or it failed."""
        if not self.enabled:
            return False
        message = "\n".join(f"{k.upper()}={v}" for k, v in fields.items()).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(message, self._target())
        except OSError:
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send(ready=1, **({"status": status} if status else {}))

    def watchdog(self) -> bool:
        return self.send(watchdog=1)

    def status(self, text: str) -> bool:
        return self.send(status=text)

    def stopping(self) -> bool:
        return self.send(stopping=1)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval() -> float | None:
    """Half of systemd's watchdog time-out in seconds (the usual ping rate), or None without one.

    WATCHDOG_PID names the service's main process. Under cage that is the compositor and the app is
    its child (the unit sets NotifyAccess=all for this), so the parent's pid counts as ours too; a
    grandchild or unrelated process that merely inherited the variables must not ping.
    """
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid not in (str(os.getpid()), str(os.getppid()))):
        return None
    try:
        return int(usec) / 2_000_000
    except ValueError:
        return None
