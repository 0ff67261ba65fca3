"""``[store] min_free_mb`` enforced: below it no new deposit starts, staff are told once.

A deposit writes a draft, encrypted scans and the commit; on a full disk the resident would pass
the card, face and fingerprint checks and then hear "something went wrong" at the first scan. So
the free space of the data partition is measured before a deposit starts (and by the runtime's
supervisor every round, which drives the out-of-service screen through the ``disk`` status).
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path
from typing import Any

from devices.errors import KioskError
from devices.status import DeviceStatus, StatusTracker

log = logging.getLogger(__name__)


class DiskSpace:
    """Free space of the partition holding ``path`` against ``min_free_mb``."""

    def __init__(
        self, path: str | Path, min_free_mb: int, *, tracker: StatusTracker | None = None, alerts: Any = None
    ) -> None:
        self.path = Path(path)
        self.min_free_mb = int(min_free_mb)
        self.tracker = tracker if tracker is not None else StatusTracker("disk", DeviceStatus.ONLINE)
        self.alerts = alerts  # an Outbox (AlertPort); the "low" alert goes out once per episode
        self._low = False
        self._lock = threading.Lock()

    def free_mb(self) -> int:
        target = self.path
        while not target.exists() and target != target.parent:
            target = target.parent
        return shutil.disk_usage(target).free // (1024 * 1024)

    def check(self) -> bool:
        """Measure now; True when a deposit may start. Updates the status; alerts when it just went low."""
        try:
            free = self.free_mb()
        except OSError as exc:
            free, why = 0, f"free space of {self.path} cannot be read: {exc}"
        else:
            why = f"{free} MB free on {self.path} (minimum {self.min_free_mb} MB): no new deposits"
        ok = free >= self.min_free_mb
        with self._lock:
            went_low, self._low = (not ok and not self._low), not ok
        if ok:
            self.tracker.set(DeviceStatus.ONLINE, f"{free} MB free on {self.path}")
            return True
        self.tracker.set(DeviceStatus.HARDWARE_ERROR, why)
        if went_low:
            log.error("disk space: %s", why)
            self._alert(why)
        return False

    def _alert(self, why: str) -> None:
        if self.alerts is None:
            return
        try:
            self.alerts.enqueue(
                "store.disk_low",
                "存储空间不足，暂停新的自助提交 Disk almost full: no new deposits",
                f"{why}. Free space on that partition (old logs: journalctl --vacuum-size=200M); "
                "the kiosk takes deposits again by itself.",
            )
        except KioskError as exc:  # the alert itself may not fit any more: the log has it
            log.error("disk-low alert not queued: %s", exc)
