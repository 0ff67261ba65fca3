"""LockerBus against LockerSimulator over a real pty: doors, jams, power cuts, two boards, gaps."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from devices.lockerboard import (
    DoorState,
    LockerAddressError,
    LockerBoardSilent,
    LockerBus,
    LockerPortLost,
    LockerSimulator,
    LockOutcomeUnknown,
)
from devices.status import DeviceStatus

BOARDS = {0: "cu48", 1: "cu48"}


@pytest.fixture
def sim() -> Iterator[LockerSimulator]:
    with LockerSimulator(pacing=False, boards=BOARDS) as s:
        yield s  # type: ignore[misc]


@pytest.fixture
def bus(sim: LockerSimulator) -> Iterator[LockerBus]:
    b = LockerBus(sim.port, boards=BOARDS, pulse_ms=10, gap_ms=20, timeout=0.15)
    b.open()
    yield b
    b.close()


def open_doors(states: dict[int, DoorState]) -> list[int]:
    return [lock for lock, d in states.items() if d is DoorState.OPEN]


def test_open_door_shows_open_until_the_person_closes_it(sim: LockerSimulator, bus: LockerBus) -> None:
    assert open_doors(bus.door_states(0)) == []
    bus.open_lock(0, 7)
    assert open_doors(bus.door_states(0)) == [7]
    assert sim.ctl_state()["open_doors"] == [[0, 7]]
    sim.ctl_close(0, 7)
    assert open_doors(bus.door_states(0)) == []
    assert bus.status.status is DeviceStatus.ONLINE
    # exactly one open frame for that lock went over the wire
    assert sim.received.count(bytes.fromhex("02 00 07 61 03 6d")) == 1


def test_jammed_door_stays_closed_until_pulled(sim: LockerSimulator, bus: LockerBus) -> None:
    sim.ctl_jam(0, 3)
    bus.open_lock(0, 3)  # the board accepts the pulse …
    assert open_doors(bus.door_states(0)) == []  # … but the door does not move
    assert sim.ctl_state()["open_commands"] == {"0:3": 1}
    sim.ctl_open(0, 3)  # the person tugs the stuck door free
    assert open_doors(bus.door_states(0)) == [3]


def test_two_boards_are_addressed_independently(sim: LockerSimulator, bus: LockerBus) -> None:
    bus.open_lock(1, 0)
    bus.open_lock(0, 47)
    states = bus.all_door_states()
    assert open_doors(states[0]) == [47]
    assert open_doors(states[1]) == [0]
    assert bus.probe() == "2 board(s) [0:cu48, 1:cu48], 96 locks, 2 door(s) open"


def test_board_not_configured_is_refused_without_sending(sim: LockerSimulator, bus: LockerBus) -> None:
    before = len(sim.received)
    with pytest.raises(LockerAddressError):
        bus.open_lock(2, 0)
    with pytest.raises(LockerAddressError):
        bus.open_lock(0, 48)
    assert len(sim.received) == before


def test_board_present_in_config_but_absent_on_the_bus_is_silent() -> None:
    with LockerSimulator(pacing=False, boards={0: "cu48"}) as sim:
        bus = LockerBus(sim.port, boards=BOARDS, pulse_ms=0, gap_ms=5, timeout=0.1)
        bus.open()
        with pytest.raises(LockerBoardSilent):
            bus.probe()
        assert bus.silent_boards == {1}
        assert bus.status.status is DeviceStatus.ONLINE  # board 0 still serves its compartments
        assert "1" in bus.status.detail
        bus.close()


def test_power_cut_then_recovery_nothing_opens_by_itself(sim: LockerSimulator, bus: LockerBus) -> None:
    bus.open_lock(0, 5)
    sim.ctl_power(0, on=False)
    with pytest.raises(LockerBoardSilent):
        bus.door_states(0)
    with pytest.raises(LockOutcomeUnknown):
        bus.open_lock(0, 6)  # sent into silence: outcome unknown, never re-sent
    assert sim.received.count(bytes.fromhex("02 00 06 61 03 6c")) == 1
    sim.ctl_close(0, 5)  # physical world goes on without power
    sim.ctl_power(0, on=True)
    assert open_doors(bus.door_states(0)) == []
    assert 0 not in bus.silent_boards
    state = sim.ctl_state()
    assert state["open_commands"] == {"0:5": 1}  # the pulse into silence never reached a lock
    assert state["open_doors"] == []


def test_all_boards_silent_is_offline() -> None:
    with LockerSimulator(pacing=False, boards={0: "cu48"}) as sim:
        bus = LockerBus(sim.port, boards={0: "cu48"}, gap_ms=5, timeout=0.1)
        bus.open()
        bus.door_states(0)
        sim.ctl_power(0, on=False)
        with pytest.raises(LockerBoardSilent):
            bus.door_states(0)
        assert bus.status.status is DeviceStatus.OFFLINE
        sim.ctl_power(0, on=True)
        bus.door_states(0)
        assert bus.status.status is DeviceStatus.ONLINE
        bus.close()


def test_open_is_not_resent_after_a_garbled_answer(sim: LockerSimulator, bus: LockerBus) -> None:
    sim.ctl_corrupt(times=1)
    with pytest.raises(LockOutcomeUnknown) as info:
        bus.open_lock(0, 9)
    assert (info.value.board, info.value.lock) == (0, 9)
    assert info.value.recovery.value == "staff"
    # the caller settles it from the sensor: the door did open
    assert open_doors(bus.door_states(0)) == [9]
    assert sim.ctl_state()["open_commands"] == {"0:9": 1}


def test_status_is_retried_once_after_noise(sim: LockerSimulator, bus: LockerBus) -> None:
    sim.ctl_corrupt(times=1)
    assert open_doors(bus.door_states(1)) == []
    sim.ctl_corrupt(times=2)
    with pytest.raises(LockerBoardSilent):
        bus.door_states(1)


def test_gap_between_commands_is_honoured(sim: LockerSimulator) -> None:
    bus = LockerBus(sim.port, boards=BOARDS, pulse_ms=40, gap_ms=60, timeout=0.2)
    bus.open()
    bus.door_states(0)
    bus.open_lock(1, 2)
    bus.door_states(1)
    bus.door_states(0)
    times = [t for t, *_ in sim.request_log]
    kinds = [k for _, k, *_ in sim.request_log]
    assert kinds == ["status", "open", "status", "status"]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps[0] >= 0.06 and gaps[2] >= 0.06
    assert gaps[1] >= 0.06 + 0.04  # after an open: the pulse, then the gap
    bus.close()


def test_commands_from_two_threads_never_overlap(sim: LockerSimulator) -> None:
    bus = LockerBus(sim.port, boards=BOARDS, pulse_ms=0, gap_ms=15, timeout=0.3)
    bus.open()
    errors: list[Exception] = []

    def worker(board: int) -> None:
        try:
            for _ in range(4):
                bus.door_states(board)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(b,)) for b in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    times = [t for t, *_ in sim.request_log]
    assert len(times) == 8
    assert all(b - a >= 0.015 for a, b in zip(times, times[1:], strict=False))
    bus.close()


def test_port_lost_then_reopened() -> None:
    sim = LockerSimulator(pacing=False, boards={0: "cu48"}).start()
    bus = LockerBus(sim.port, boards={0: "cu48"}, gap_ms=5, timeout=0.1)
    bus.open()
    sim.stop()
    with pytest.raises((LockerPortLost, LockerBoardSilent)):
        bus.door_states(0)
    with pytest.raises(LockerPortLost):
        bus.door_states(0)
    assert bus.status.status is DeviceStatus.OFFLINE
    bus.close()


def test_startup_sends_nothing(sim: LockerSimulator) -> None:
    bus = LockerBus(sim.port, boards=BOARDS)
    bus.open()
    bus.all_outputs_off()
    bus.close()
    assert bytes(sim.received) == b""
