"""DoorWatcher over a real pty: confirmed opens, jams, forced doors, doors left open, power cuts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from devices.lockerboard import (
    DoorEvent,
    DoorEventKind,
    DoorJammed,
    DoorWatcher,
    LockerBus,
    LockerSimulator,
    wait_door_open,
)

BOARDS = {0: "cu48", 1: "cu48"}


@pytest.fixture
def rig() -> Iterator[tuple[LockerSimulator, LockerBus]]:
    with LockerSimulator(pacing=False, boards=BOARDS) as sim:
        bus = LockerBus(sim.port, boards=BOARDS, pulse_ms=0, gap_ms=5, timeout=0.1)
        bus.open()
        yield sim, bus  # type: ignore[misc]
        bus.close()


def kinds(events: list[DoorEvent]) -> list[tuple[DoorEventKind, int, int | None]]:
    return [(e.kind, e.board, e.lock) for e in events]


def test_commanded_open_then_close(rig: tuple[LockerSimulator, LockerBus]) -> None:
    sim, bus = rig
    watcher = DoorWatcher(bus, confirm_within=5)
    assert watcher.poll_once() == []  # baseline
    bus.open_lock(1, 4)
    assert kinds(watcher.poll_once()) == [(DoorEventKind.OPENED, 1, 4)]
    assert watcher.poll_once() == []
    sim.ctl_close(1, 4)
    assert kinds(watcher.poll_once()) == [(DoorEventKind.CLOSED, 1, 4)]


def test_forced_door_is_an_unexpected_open(rig: tuple[LockerSimulator, LockerBus]) -> None:
    sim, bus = rig
    watcher = DoorWatcher(bus)
    watcher.poll_once()
    sim.ctl_force_open(0, 11)
    assert kinds(watcher.poll_once()) == [(DoorEventKind.OPENED_UNEXPECTEDLY, 0, 11)]


def test_jammed_door_is_reported_after_the_confirm_window(rig: tuple[LockerSimulator, LockerBus]) -> None:
    sim, bus = rig
    watcher = DoorWatcher(bus, confirm_within=0.2)
    watcher.poll_once()
    sim.ctl_jam(0, 2)
    bus.open_lock(0, 2)
    assert watcher.poll_once() == []  # still within the window
    time.sleep(0.25)
    assert kinds(watcher.poll_once()) == [(DoorEventKind.JAMMED, 0, 2)]
    assert watcher.poll_once() == []  # reported once


def test_door_left_open_is_reminded_once(rig: tuple[LockerSimulator, LockerBus]) -> None:
    _, bus = rig
    watcher = DoorWatcher(bus, left_open_after=0.15)
    watcher.poll_once()
    bus.open_lock(0, 0)
    assert kinds(watcher.poll_once()) == [(DoorEventKind.OPENED, 0, 0)]
    time.sleep(0.2)
    assert kinds(watcher.poll_once()) == [(DoorEventKind.LEFT_OPEN, 0, 0)]
    assert watcher.poll_once() == []


def test_power_cut_board_silent_then_back_without_phantom_opens(rig: tuple[LockerSimulator, LockerBus]) -> None:
    sim, bus = rig
    watcher = DoorWatcher(bus)
    watcher.poll_once()
    sim.ctl_power(1, on=False)
    assert kinds(watcher.poll_once()) == [(DoorEventKind.BOARD_SILENT, 1, None)]
    assert watcher.poll_once() == []
    sim.ctl_power(1, on=True)
    assert kinds(watcher.poll_once()) == [(DoorEventKind.BOARD_BACK, 1, None)]
    assert sim.ctl_state()["open_doors"] == []


def test_background_thread_delivers_events(rig: tuple[LockerSimulator, LockerBus]) -> None:
    sim, bus = rig
    got: list[DoorEvent] = []
    seen = threading.Event()

    def listener(event: DoorEvent) -> None:
        got.append(event)
        seen.set()

    watcher = DoorWatcher(bus, interval=0.05)
    watcher.subscribe(listener)
    watcher.start()
    try:
        deadline = time.monotonic() + 3
        while not watcher.has_baseline and time.monotonic() < deadline:
            time.sleep(0.01)
        assert watcher.has_baseline
        sim.ctl_force_open(0, 30)
        assert seen.wait(3)
    finally:
        watcher.stop()
    assert kinds(got) == [(DoorEventKind.OPENED_UNEXPECTEDLY, 0, 30)]


def test_wait_door_open_confirms_or_reports_the_jam(rig: tuple[LockerSimulator, LockerBus]) -> None:
    sim, bus = rig
    bus.open_lock(0, 1)
    wait_door_open(bus, 0, 1, within=0.5, interval=0.02)
    sim.ctl_jam(0, 2)
    bus.open_lock(0, 2)
    with pytest.raises(DoorJammed) as info:
        wait_door_open(bus, 0, 2, within=0.1, interval=0.02)
    assert info.value.code == "locker.door_jammed"
    assert sim.ctl_state()["open_commands"] == {"0:1": 1, "0:2": 1}
