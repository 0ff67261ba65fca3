"""The ID card reader unplugged in the middle of a deposit's card step.

Fault injected from outside: the reader's pty vanishes (its simulator is stopped: the cable is
pulled) while the resident is asked for the card, and later comes back on the same port (plugged
in again). The kiosk's own supervisor thread runs as in the app. Checked: the flow backs off
(few reads, little CPU while the reader is gone), the step keeps its deadline, the screen offers
"try again / cancel", the supervisor reopens the reader during the session, and a resident can
go on; a reader that never comes back ends the session at the step's time-out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flow_support import Rig, press, wait_until
from runtime_support import write_config

from devices.idcard import IdCardReader, SimulatorPhotoDecoder
from devices.idcard.simulator import IdCardSimulator
from flows.machine import ENDED, Ticker
from kiosk.config import load_config
from kiosk.runtime import DeviceSlot, KioskRuntime

CARD_STEP_S = 6.0


class CountingReader(IdCardReader):
    """The real driver; counts how often the flow asks it to wait for a card."""

    waits = 0

    def wait_for_card(self, *args: Any, **kwargs: Any) -> Any:
        self.waits += 1
        return super().wait_for_card(*args, **kwargs)


@pytest.fixture
def unpluggable(rig: Rig, tmp_path: Path) -> Iterator[tuple[IdCardSimulator, CountingReader, DeviceSlot]]:
    """A reader on a link that survives re-plugging, watched by the runtime's own supervisor loop."""
    link = str(tmp_path / "dev" / "idcard")
    sim = IdCardSimulator(pacing=False, link=link).start()
    reader = CountingReader(link, wlt_decoder=SimulatorPhotoDecoder(), timeout=0.5)

    def connect() -> str:
        reader.open()
        return str(reader.probe())

    slot = DeviceSlot(
        "idcard", connect, driver_status=lambda: reader.status, check=reader.probe, reset=reader.close,
        disconnect=reader.close,
    )
    assert slot.connect()
    runtime = KioskRuntime(load_config(write_config(tmp_path, pcsc=False)), supervise_interval=0.2)
    runtime.slots = {"idcard": slot}
    runtime.sessions = rig.sessions
    supervisor = threading.Thread(target=runtime._supervise, daemon=True)
    supervisor.start()
    try:
        yield sim, reader, slot
    finally:
        runtime._stop.set()
        supervisor.join(5)
        reader.close()
        sim.stop()


def test_unplugged_reader_backs_off_keeps_the_deadline_and_is_reopened_mid_session(
    rig: Rig, unpluggable: tuple[IdCardSimulator, CountingReader, DeviceSlot]
) -> None:
    sim, reader, slot = unpluggable
    flow = rig.deposit(reader=reader, timeouts={"card": CARD_STEP_S})
    ticker = Ticker(flow, interval=0.05).start()
    try:
        press(flow, "start")
        deadline = flow.view.deadline
        assert flow.view.step == "card" and deadline is not None
        sim.stop()  # the cable is pulled
        wait_until(lambda: "retry" in flow.view.actions, 5, "try again offered")
        assert flow.view.message.startswith("device.") and flow.view.params["device"] == "idcard"
        assert not slot.tracker.status.usable
        waits, cpu = reader.waits, time.process_time()
        time.sleep(3.0)
        waits, cpu = reader.waits - waits, time.process_time() - cpu
        # back-off 0.5, 1, 2, 4 s: a handful of reads, not tens of thousands; the CPU mostly idle
        assert waits <= 6, f"{waits} reads in 3 s while the reader was gone"
        assert cpu < 1.5, f"{cpu:.2f} s CPU in 3 s while the reader was gone"
        assert flow.view.step == "card" and flow.view.deadline == deadline  # the step's time-out stands
        assert set(flow.view.actions) == {"retry", "cancel"}

        sim.start()  # plugged in again, same port
        wait_until(lambda: slot.tracker.status.usable, 5, "supervisor reopened the reader during the session")
        assert rig.sessions.current is not None  # ... while the resident's session went on
        press(flow, "retry")  # "try again" reads at once
        sim.ctl_insert("zhang_san")
        wait_until(lambda: flow.state == "identity", 10, "card read after the reader came back")
        assert flow.view.params["id_number"] != ""  # the masked number of the card just read
    finally:
        ticker.stop()


def test_a_reader_that_never_comes_back_ends_the_session_at_the_step_time_out(
    rig: Rig, unpluggable: tuple[IdCardSimulator, CountingReader, DeviceSlot]
) -> None:
    sim, reader, _ = unpluggable
    flow = rig.deposit(reader=reader, timeouts={"card": 3.0})
    ticker = Ticker(flow, interval=0.05).start()
    try:
        press(flow, "start")
        sim.stop()
        wait_until(lambda: flow.state == ENDED, 10, "card step timed out")
    finally:
        ticker.stop()
    assert flow.view.message == "flow.out_of_service" and flow.view.params["device"] == "idcard"
    assert reader.waits <= 6
    assert rig.sessions.current is None
