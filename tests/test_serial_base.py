"""The shared serial base: a pty simulator and SerialLink exchange bytes, time out, cancel, vanish."""

from __future__ import annotations

import threading
import time

import pytest

from devices.cancel import CancelToken, Deadline
from devices.errors import DeviceCancelled, DeviceOffline, DeviceTimeout
from devices.pty_sim import PtySimulator
from devices.serial_link import SerialLink
from devices.status import DeviceStatus, StatusTracker
from devices.wire_time import wire_seconds


class EchoSim(PtySimulator):
    """Answers every byte with itself, all 256 values included."""

    name = "echo"

    def on_bytes(self, data: bytes) -> None:
        self.send(data)


def test_all_byte_values_cross_the_pty_both_ways() -> None:
    with EchoSim(baudrate=115200, pacing=False) as sim:
        link = SerialLink(sim.port, 115200, device="echo")
        link.open()
        payload = bytes(range(256))
        link.write(payload)
        assert link.read_exact(256, Deadline(2)) == payload
        link.close()


def test_pacing_makes_answers_take_wire_time() -> None:
    with EchoSim(baudrate=9600, pacing=True) as sim:
        link = SerialLink(sim.port, 9600, device="echo")
        link.open()
        start = time.monotonic()
        link.write(bytes(480))
        link.read_exact(480, Deadline(5))
        took = time.monotonic() - start
        link.close()
    # request and answer each take 0.5 s at 9600 baud
    assert took >= 2 * wire_seconds(480, 9600) * 0.95


def test_silent_device_times_out_and_cancel_stops_the_wait() -> None:
    with EchoSim(baudrate=115200, pacing=False) as sim:
        sim.control("unplug")
        link = SerialLink(sim.port, 115200, device="echo")
        link.open()
        link.write(b"\x01")
        with pytest.raises(DeviceTimeout):
            link.read_exact(1, Deadline(0.2, "echo"))
        token = CancelToken()
        threading.Timer(0.1, token.cancel).start()
        start = time.monotonic()
        with pytest.raises(DeviceCancelled):
            link.read_exact(1, Deadline(10, "echo"), token)
        assert time.monotonic() - start < 5
        sim.control("plug")
        link.write(b"\x02")
        assert link.read_exact(1, Deadline(2)) == b"\x02"
        link.close()


def test_stopped_simulator_is_offline_and_port_cannot_reopen() -> None:
    sim = EchoSim(baudrate=115200, pacing=False).start()
    link = SerialLink(sim.port, 115200, device="echo")
    link.open()
    sim.stop()
    with pytest.raises(DeviceOffline):
        link.write(b"\x01")
        link.read_exact(1, Deadline(1))
    with pytest.raises(DeviceOffline):
        link.open()


def test_status_tracker_reports_changes_once() -> None:
    seen = []
    tracker = StatusTracker("echo")
    tracker.subscribe(seen.append)
    tracker.set(DeviceStatus.ONLINE)
    tracker.set(DeviceStatus.ONLINE)
    tracker.set(DeviceStatus.HARDWARE_ERROR, "self-test failed")
    assert [(c.old, c.new) for c in seen] == [
        (DeviceStatus.OFFLINE, DeviceStatus.ONLINE),
        (DeviceStatus.ONLINE, DeviceStatus.HARDWARE_ERROR),
    ]
    assert not tracker.status.usable
