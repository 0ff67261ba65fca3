"""Staff alerts for a required device that stays down, and systemd's STATUS= kept current.

Why: the example configuration promised alerts for "device down", but none was ever queued; staff
learnt about an unplugged sensor from a resident. A device that is down for ``after_s`` raises one
``device_down`` alert, and one ``device_back`` alert when it works again (never one per flicker:
a device back within ``after_s`` raised nothing). The same round writes one STATUS= line for
``systemctl status kiosk`` — what the kiosk is doing and which devices are down — only when it
changes.

The supervisor thread of ``kiosk.runtime`` calls ``check`` every round; nothing here blocks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from devices.status import StatusTracker

log = logging.getLogger(__name__)


class DeviceDownAlerts:
    def __init__(
        self,
        trackers: Callable[[], Mapping[str, StatusTracker]],
        required: Callable[[], tuple[str, ...]],
        alerts: Any,
        *,
        after_s: float = 300.0,
        activity: Callable[[], str] = lambda: "idle",
        notifier: Any = None,
        kiosk_name: str = "kiosk",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.trackers = trackers
        self.required = required
        self.alerts = alerts
        self.after_s = after_s
        self.activity = activity
        self.notifier = notifier
        self.kiosk_name = kiosk_name
        self.clock = clock
        self.down_since: dict[str, float] = {}
        self.alerted: set[str] = set()
        self.last_status = ""

    def check(self) -> str:
        """One round: alerts due, then the STATUS= line (returned)."""
        now = self.clock()
        trackers = self.trackers()
        down: list[str] = []
        for name in self.required():
            tracker = trackers.get(name)
            if tracker is None:
                continue
            if tracker.status.usable:
                self.down_since.pop(name, None)
                if name in self.alerted:
                    self.alerted.discard(name)
                    self._alert("device_back", f"设备已恢复 Device back: {name}",
                                f"{self.kiosk_name}: {name} works again ({tracker.detail or tracker.status}).")
                continue
            down.append(name)
            since = self.down_since.setdefault(name, now)
            if name not in self.alerted and now - since >= self.after_s:
                self.alerted.add(name)
                self._alert("device_down", f"设备故障 Device down: {name}",
                            f"{self.kiosk_name}: {name} has been down for {(now - since) / 60:.0f} min: "
                            f"{tracker.detail or tracker.status}. The kiosk is out of service for residents.")
        status = self._status_line(down)
        if status != self.last_status:
            self.last_status = status
            if self.notifier is not None:
                self.notifier.status(status)
        return status

    def _status_line(self, down: list[str]) -> str:
        if down:
            return f"out of service ({self.activity()}); down: {', '.join(sorted(down))}"
        return f"in service ({self.activity()}); all devices working"

    def _alert(self, kind: str, title: str, body: str) -> None:
        log.warning("%s", body)
        if self.alerts is None:
            return
        try:
            self.alerts.enqueue(kind, title, body)
        except Exception as exc:  # a full disk must not stop the supervisor
            log.error("%s alert not queued: %s", kind, exc)
