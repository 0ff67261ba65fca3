"""PcscReader and CardWatcher against the real stack: pcscd + vpcd + the virtual card over TCP."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest
from pcsc_support import BADGE_READER, DOOR_READER, PCSCD, PCSCD_STACK, SKIP_REASON, wait_until

from devices.cancel import CancelToken
from devices.errors import DeviceCancelled, Recovery
from devices.pcsc import (
    CardError,
    CardRemoved,
    CardWatcher,
    NoCard,
    PcscError,
    PcscReader,
    PcscUnavailable,
    ReaderMissing,
    VirtualCardSimulator,
)
from devices.status import DeviceStatus

pytestmark = [pytest.mark.pcsc, pytest.mark.skipif(PCSCD is None, reason=SKIP_REASON)]


@pytest.fixture(scope="module", autouse=True)
def pcscd() -> None:
    PCSCD_STACK.ensure()


def _leave_field(sim: VirtualCardSimulator, reader_name: str) -> None:
    """Remove the card and wait until pcscd has seen it go, so the next test starts clean."""
    sim.stop()
    reader = PcscReader(reader_name)
    with contextlib.suppress(PcscError):
        reader.wait_removed(timeout=5)


@pytest.fixture
def badge() -> Iterator[VirtualCardSimulator]:
    sim = VirtualCardSimulator(port=35963)
    yield sim
    _leave_field(sim, BADGE_READER)


@pytest.fixture
def door_card() -> Iterator[VirtualCardSimulator]:
    sim = VirtualCardSimulator(port=35964)
    yield sim
    _leave_field(sim, DOOR_READER)


class Recorder:
    """Collects watcher callbacks from its thread."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.errors: list[PcscError] = []
        self._lock = threading.Lock()

    def card(self, uid: str) -> None:
        with self._lock:
            self.events.append(("card", uid))

    def removed(self) -> None:
        with self._lock:
            self.events.append(("removed", ""))

    def error(self, exc: PcscError) -> None:
        with self._lock:
            self.errors.append(exc)

    def watcher(self, reader: PcscReader) -> CardWatcher:
        return CardWatcher(reader, self.card, self.removed, on_error=self.error, retry_interval=0.2)


def test_tap_gives_the_uid_and_removal_is_seen(badge: VirtualCardSimulator) -> None:
    reader = PcscReader("Virtual PCD 00 00")
    assert reader.status.status is DeviceStatus.OFFLINE  # nothing checked in the constructor
    reader.open()
    assert reader.status.status is DeviceStatus.ONLINE
    assert reader.probe() == "Virtual PCD 00 00, no card"
    assert reader.status.status is DeviceStatus.ONLINE
    badge.ctl_tap(uid="04a1b2c3")
    assert reader.read_uid(timeout=5) == "04A1B2C3"
    assert reader.status.status is DeviceStatus.ONLINE
    assert badge.apdus[-1] == bytes.fromhex("FFCA000000")
    assert reader.probe().endswith("card present")
    badge.ctl_remove()
    reader.wait_removed(timeout=5)
    assert reader.probe().endswith("no card")


def test_seven_byte_uid_and_busy_status_while_waiting(badge: VirtualCardSimulator) -> None:
    reader = PcscReader(BADGE_READER)
    seen: list[DeviceStatus] = []
    reader.status.subscribe(lambda change: seen.append(change.new))
    threading.Timer(0.3, badge.ctl_tap, kwargs={"uid": "04112233445566"}).start()
    assert reader.read_uid(timeout=5) == "04112233445566"
    assert seen[0] is DeviceStatus.BUSY and seen[-1] is DeviceStatus.ONLINE


def test_no_tap_times_out_and_cancel_stops_the_wait() -> None:
    reader = PcscReader(BADGE_READER)
    with pytest.raises(NoCard) as err:
        reader.read_uid(timeout=0.3)
    assert err.value.recovery is Recovery.USER and err.value.code == "pcsc.no_card"
    token = CancelToken()
    threading.Timer(0.2, token.cancel).start()
    with pytest.raises(DeviceCancelled):
        reader.read_uid(timeout=10, cancel=token)
    assert reader.status.status is DeviceStatus.ONLINE


def test_card_pulled_during_the_read_is_a_typed_error_then_the_next_tap_works(
    badge: VirtualCardSimulator,
) -> None:
    reader = PcscReader(BADGE_READER)
    badge.ctl_pull_during_read()
    badge.ctl_tap(uid="04A1B2C3")
    with pytest.raises(CardRemoved) as err:
        reader.read_uid(timeout=5)
    assert isinstance(err.value, CardError) and err.value.recovery is Recovery.USER
    assert reader.status.status is DeviceStatus.ONLINE
    assert wait_until(lambda: not badge.present)
    reader.wait_removed(timeout=5)
    badge.ctl_tap(uid="0A0B0C0D")
    assert reader.read_uid(timeout=5) == "0A0B0C0D"


def test_reader_that_matches_no_name_is_reader_missing() -> None:
    reader = PcscReader("ACR122U", device="door")
    with pytest.raises(ReaderMissing):
        reader.open()
    with pytest.raises(ReaderMissing) as err:
        reader.probe()
    assert err.value.code == "pcsc.reader_missing" and "Virtual PCD 00 00" in str(err.value)
    assert reader.status.status is DeviceStatus.OFFLINE
    with pytest.raises(ReaderMissing):
        reader.read_uid(timeout=1)
    rec = Recorder()
    with rec.watcher(reader) as watcher:
        assert wait_until(lambda: rec.errors)
        assert watcher.running  # keeps trying until the reader appears
    assert isinstance(rec.errors[0], ReaderMissing)
    assert reader.status.status is DeviceStatus.OFFLINE


def test_watcher_reports_a_tap_once_and_a_second_tap_again(badge: VirtualCardSimulator) -> None:
    reader = PcscReader(BADGE_READER)
    rec = Recorder()
    with rec.watcher(reader):
        assert wait_until(lambda: reader.status.status is DeviceStatus.ONLINE)
        badge.ctl_tap(uid="04A1B2C3")
        assert wait_until(lambda: rec.events)
        # the card stays; another application reading it must not make it a new tap
        assert reader.read_uid(timeout=5) == "04A1B2C3"
        polls = badge.ctl_state()["atr_requests"]
        assert wait_until(lambda: badge.ctl_state()["atr_requests"] >= polls + 3)  # pcscd polled it again
        assert rec.events == [("card", "04A1B2C3")]
        badge.ctl_remove()
        assert wait_until(lambda: len(rec.events) == 2)
        badge.ctl_tap(uid="04A1B2C3")
        assert wait_until(lambda: len(rec.events) == 3)
        badge.ctl_remove()
        assert wait_until(lambda: len(rec.events) == 4)
    assert rec.events == [("card", "04A1B2C3"), ("removed", ""), ("card", "04A1B2C3"), ("removed", "")]
    assert rec.errors == []


def test_door_reader_reads_the_resident_id_card_serial(door_card: VirtualCardSimulator) -> None:
    reader = PcscReader("PCD 00 01", device="door")
    door_card.ctl_tap(uid="0123456789ABCDEF", kind="idcard")
    assert reader.read_uid(timeout=5) == "0123456789ABCDEF"
    door_card.ctl_remove()
    reader.wait_removed(timeout=5)
    # a reader that gives the card's all-zero PUPI for GET UID: the card's own serial command is used
    door_card.ctl_tap(uid="0123456789ABCDEF", kind="idcard", pupi_only=True)
    assert reader.read_uid(timeout=5) == "0123456789ABCDEF"
    assert door_card.apdus[-2:] == [bytes.fromhex("FFCA000000"), bytes.fromhex("0036000008")]


def test_badge_that_is_no_id_card_gives_no_fallback(door_card: VirtualCardSimulator) -> None:
    reader = PcscReader(DOOR_READER, device="door")
    door_card.ctl_tap(uid="04A1B2C3")
    assert reader.read_uid(timeout=5) == "04A1B2C3"
    assert door_card.apdus == [bytes.fromhex("FFCA000000")]


def test_watcher_survives_a_pcscd_restart(badge: VirtualCardSimulator) -> None:
    if not PCSCD_STACK.owned:
        pytest.skip("the running pcscd was not started by this test run (scripts/test.sh or the tests)")
    reader = PcscReader(BADGE_READER)
    rec = Recorder()
    statuses: list[DeviceStatus] = []
    reader.status.subscribe(lambda change: statuses.append(change.new))
    down: list[PcscError] = []

    def while_down() -> None:
        try:
            reader.probe()
        except PcscError as exc:
            down.append(exc)

    with rec.watcher(reader) as watcher:
        badge.ctl_tap(uid="04A1B2C3")
        assert wait_until(lambda: rec.events == [("card", "04A1B2C3")])
        PCSCD_STACK.restart(while_down=while_down)
        # the old pcscd took the card's connection with it; the watcher says so and comes back
        assert wait_until(lambda: watcher.reconnects >= 1, timeout=10)
        assert wait_until(lambda: reader.status.status is DeviceStatus.ONLINE)
        badge.ctl_tap(uid="0A0B0C0D")
        assert wait_until(lambda: len(rec.events) == 3, timeout=10)
        assert watcher.running
    assert rec.events == [("card", "04A1B2C3"), ("removed", ""), ("card", "0A0B0C0D")]
    assert isinstance(rec.errors[0], PcscUnavailable) and rec.errors[0].code == "pcsc.service_unavailable"
    assert len(down) == 1 and isinstance(down[0], PcscUnavailable)
    assert DeviceStatus.OFFLINE in statuses and statuses[-1] is DeviceStatus.ONLINE
