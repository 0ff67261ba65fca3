"""``min_free_mb`` enforced: the data partition nearly full before a resident starts a deposit.

Fault injected from outside: the kiosk's whole state (database, scans, fingerprint pages) lives
on a real tiny tmpfs, which is filled until 3 MB are left while ``min_free_mb`` is 5. Checked: the
deposit does not start (no card, face or fingerprint asked for; the screen names the disk), the
runtime's ``disk`` status (the out-of-service switch) is down with the free space in its reason,
staff get one alert; once space is freed the next deposit starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flow_support import make_rig, press
from fs_support import tiny_tmpfs
from runtime_support import write_config

from flows.machine import ENDED
from flows.view import Screen
from kiosk.config import load_config
from kiosk.runtime import KioskRuntime
from locker.diskspace import DiskSpace


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    with tiny_tmpfs(tmp_path / "small", "48m") as mnt:
        yield mnt


def fill_until(mnt: Path, free_mb: int) -> Path:
    import shutil

    filler = mnt / "filler.bin"
    left = shutil.disk_usage(mnt).free - free_mb * 1024 * 1024
    with filler.open("wb") as f:
        f.write(b"\0" * left)
    return filler


def test_no_deposit_starts_below_min_free_mb_and_staff_are_told(small_fs: Path, tmp_path: Path) -> None:
    runtime = KioskRuntime(load_config(write_config(tmp_path, pcsc=False)))  # not started: its checks only
    with make_rig(small_fs) as rig:
        runtime.disk = DiskSpace(
            rig.store.db.path.parent, 5, tracker=runtime.health["disk"], alerts=rig.outbox
        )
        flow = rig.deposit(preflight=runtime.deposit_preflight)
        filler = fill_until(small_fs, 3)
        for _ in range(2):
            press(flow, "start")
            assert flow.state == ENDED and flow.view.message == "flow.out_of_service"
            assert flow.view.params["device"] == "disk"
            press(flow, "ok")
        assert "card" not in flow.history and rig.sessions.current is None
        disk = runtime.health["disk"]
        assert not disk.status.usable and " MB free on " in disk.detail and "minimum 5 MB" in disk.detail
        os.environ.setdefault("KIVY_NO_ARGS", "1")
        from kiosk.app import DeviceWatch

        oos = DeviceWatch(runtime.health, list(runtime.health), lambda: None).view()  # between residents
        assert oos is not None and oos.screen is Screen.OUT_OF_SERVICE
        [shown] = oos.params["devices"]
        assert shown["device"] == "disk" and "MB free" in shown["detail"]
        assert oos.actions == ("pickup",)  # results can still be fetched while no papers are taken
        alerts = [i for i in rig.outbox.items() if i.kind == "store.disk_low"]
        assert len(alerts) == 1  # once, not at every refused start

        filler.unlink()  # staff free space
        press(flow, "start")
        assert flow.state == "card" and disk.status.usable
        press(flow, "cancel")
