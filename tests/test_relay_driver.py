"""Door relays against their simulators over a real pty: timed open, crash safety, failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from devices.lockerboard import LockerBus, LockerSimulator
from devices.relay import BoardChannelRelay, LcusRelay, RelayConfigError, RelayOffline, RelaySimulator
from devices.status import DeviceStatus


@pytest.fixture
def sim() -> Iterator[RelaySimulator]:
    with RelaySimulator(pacing=False) as s:
        yield s  # type: ignore[misc]


def wait_for(cond, seconds: float = 3.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def test_open_for_switches_on_then_off_by_itself(sim: RelaySimulator) -> None:
    relay = LcusRelay(sim.port, timeout=0.2)
    relay.open()
    assert relay.probe() == "LCUS relay, 1 channel(s): CH1 off"
    relay.open_for(0.2)
    assert sim.ctl_state()["on"] == {"1": True}
    assert relay.is_on
    assert wait_for(lambda: sim.ctl_state()["on"] == {"1": False})
    history = sim.ctl_state()["history"]
    # start-up off, on, off by the timer
    assert [h["on"] for h in history] == [False, True, False]
    assert history[2]["at"] - history[1]["at"] >= 0.2
    assert not relay.is_on
    assert relay.status.status is DeviceStatus.ONLINE
    relay.close()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_switch_off_happens_even_when_the_caller_thread_dies(sim: RelaySimulator) -> None:
    relay = LcusRelay(sim.port, timeout=0.2)
    relay.open()

    def caller() -> None:
        relay.open_for(0.1)
        raise RuntimeError("caller crashed after opening the door")

    t = threading.Thread(target=caller)
    t.start()
    t.join()
    assert wait_for(lambda: sim.ctl_state()["on"] == {"1": False} and len(sim.history) == 3)
    relay.close()


def test_startup_switches_off_a_relay_left_on_by_a_crash(sim: RelaySimulator) -> None:
    sim.ctl_set(1, True)  # the previous kiosk process died with the door unlocked
    relay = LcusRelay(sim.port, timeout=0.2)
    relay.open()
    assert sim.ctl_state()["on"] == {"1": False}
    relay.close()


def test_release_cancels_the_pending_off_and_reopen_restarts_the_time(sim: RelaySimulator) -> None:
    relay = LcusRelay(sim.port, timeout=0.2)
    relay.open()
    relay.open_for(5)
    relay.release()
    assert sim.ctl_state()["on"] == {"1": False}
    with pytest.raises(RelayConfigError):
        relay.open_for(0)
    relay.close()


def test_silent_module_is_offline_then_recovers(sim: RelaySimulator) -> None:
    relay = LcusRelay(sim.port, timeout=0.1)
    relay.open()
    sim.ctl_unplug()
    with pytest.raises(RelayOffline):
        relay.probe()
    assert relay.status.status is DeviceStatus.OFFLINE
    sim.ctl_plug()
    assert "CH1 off" in relay.probe()
    assert relay.status.status is DeviceStatus.ONLINE
    relay.close()


def test_module_without_status_query_works_fire_and_forget() -> None:
    with RelaySimulator(pacing=False, answers_status=False) as sim:
        relay = LcusRelay(sim.port, query_status=False)
        relay.open()
        assert "status query disabled" in relay.probe()
        relay.open_for(0.1)
        assert wait_for(lambda: [h[2] for h in sim.history] == [False, True, False])
        relay.close()


def test_board_channel_relay_pulses_the_locker_output_once() -> None:
    with LockerSimulator(pacing=False, boards={0: "cu48"}) as sim:
        bus = LockerBus(sim.port, boards={0: "cu48"}, pulse_ms=0, gap_ms=5, timeout=0.1)
        bus.open()
        relay = BoardChannelRelay(bus, 0, 47)
        assert "board 0 output 47" in relay.probe()
        relay.open_for(3)
        relay.release()
        assert sim.ctl_state()["open_commands"] == {"0:47": 1}
        assert relay.status.status is DeviceStatus.ONLINE
        with pytest.raises(RelayConfigError):
            BoardChannelRelay(bus, 5, 0)
        bus.close()
