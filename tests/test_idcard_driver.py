"""IdCardReader against IdCardSimulator over a real pty: reads, every injected failure, recovery."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.cancel import CancelToken
from devices.errors import (
    DeviceCancelled,
    DeviceOffline,
    DeviceTimeout,
    HardwareError,
    ProtocolError,
    Recovery,
    UserActionError,
)
from devices.idcard import (
    CardPoller,
    CardRead,
    IdCardChecksumError,
    IdCardHardwareError,
    IdCardNoCard,
    IdCardReader,
    IdCardReadFailed,
    IdCardWaitTimeout,
    SimulatorPhotoDecoder,
    Sw3,
    WltDecoderMissing,
)
from devices.idcard.protocol import Command, request
from devices.idcard.sample_cards import LI_SI, ZHANG_SAN, sample_cards
from devices.idcard.simulator import IdCardSimulator
from devices.status import DeviceStatus

READ_FRAME = request(Command.READ_TEXT_PHOTO).encode()
FIND_FRAME = request(Command.FIND).encode()


@pytest.fixture
def link(tmp_path: Path) -> str:
    return str(tmp_path / "ttyIDCARD")


@pytest.fixture
def sim(link: str) -> Iterator[IdCardSimulator]:
    s = IdCardSimulator(pacing=False, link=link).start()
    yield s
    s.stop()


@pytest.fixture
def reader(sim: IdCardSimulator, link: str) -> Iterator[IdCardReader]:
    r = IdCardReader(link, timeout=1.0, find_timeout=0.5, wlt_decoder=SimulatorPhotoDecoder())
    r.open()
    yield r
    r.close()


def test_probe_names_the_sam(reader: IdCardReader) -> None:
    assert reader.probe() == "SAM 05.01-20200101-000012345-987654321"
    assert reader.status.status is DeviceStatus.ONLINE


def test_full_read(sim: IdCardSimulator, reader: IdCardReader) -> None:
    sim.ctl_insert(card="zhang_san")
    read = reader.read_card()
    assert read.record == ZHANG_SAN
    assert read.photo is not None and read.photo.shape == (126, 102, 3)
    assert read.photo_error is None and read.fingerprint is None
    assert read.serial == sample_cards()["zhang_san"].serial
    assert bytes(sim.received).endswith(FIND_FRAME + request(Command.SELECT).encode() + READ_FRAME)
    assert ZHANG_SAN.id_number not in repr(read)


def test_read_with_fingerprint(sim: IdCardSimulator, reader: IdCardReader) -> None:
    sim.ctl_insert(card="li_si")
    read = reader.read_card(with_fingerprint=True)
    assert read.record == LI_SI
    assert read.fingerprint == sample_cards()["li_si"].fingerprint
    sim.ctl_remove()
    sim.ctl_insert(card="long_term")  # a card without fingerprints
    read = reader.read_card(with_fingerprint=True)
    assert read.fingerprint is None and read.record.valid_to is None


def test_newest_address(sim: IdCardSimulator, reader: IdCardReader) -> None:
    sim.ctl_insert(card="zhang_san")
    reader.read_card()
    assert reader.read_newest_address() == "北京市朝阳区光华路9号"


def test_dict_card_and_missing_decoder(sim: IdCardSimulator, link: str) -> None:
    sim.ctl_insert(
        card={
            "name": "赵六",
            "sex": "2",
            "nation_code": "03",
            "birth_date": "19700203",
            "id_number": "110105197002030006",  # a valid GB 11643 check digit (issue 12)
            "valid_from": "20100101",
            "valid_to": "长期",
            "photo": str(Path(__file__).parent / "data" / "faces" / "biden_1.jpg"),
        }
    )
    with IdCardReader(link, timeout=1.0) as plain:  # no decoder configured
        read = plain.read_card()
    assert read.record.display_name == "赵六"
    assert read.photo is None and isinstance(read.photo_error, WltDecoderMissing)
    assert read.photo_reason and len(read.photo_wlt) == 1024


def test_no_card(reader: IdCardReader) -> None:
    assert reader.find_card() is False
    with pytest.raises(IdCardNoCard) as err:
        reader.read_card()
    assert err.value.code == "idcard.no_card" and err.value.recovery is Recovery.USER
    assert reader.status.status is DeviceStatus.ONLINE


USER_FAILURES = [
    Sw3.READ_FAILED,
    Sw3.RANDOM_NUMBER_FAILED,
    Sw3.CARD_CANNOT_AUTH_SAM,
    Sw3.SAM_CANNOT_AUTH_CARD,
    Sw3.VERIFICATION_ERROR,
    Sw3.UNKNOWN_CARD_TYPE,
]
NO_CARD = [Sw3.FIELD_EMPTY, Sw3.FIND_FAILED, Sw3.SELECT_FAILED]
HARDWARE = [Sw3.UNAUTHORISED, Sw3.UNKNOWN_ERROR, Sw3.SAM_SELF_TEST_FAILED, Sw3.SAM_NOT_AUTHORISED]
PROTOCOL = [Sw3.LENGTH_ERROR, Sw3.BAD_COMMAND]


def test_failure_table_covers_every_sw3() -> None:
    covered = set(USER_FAILURES + NO_CARD + HARDWARE + PROTOCOL) | {Sw3.CHECKSUM_ERROR, Sw3.OK, Sw3.CARD_FOUND}
    assert covered == set(Sw3)


@pytest.mark.parametrize("sw3", USER_FAILURES + NO_CARD + HARDWARE + PROTOCOL, ids=lambda s: s.name.lower())
def test_each_injected_sw3_failure_then_recovery(sim: IdCardSimulator, reader: IdCardReader, sw3: Sw3) -> None:
    sim.ctl_insert(card="zhang_san")
    reader.find_card()
    reader.select_card()
    sim.ctl_fail(sw3=f"{sw3:02x}", command="read")
    before = bytes(sim.received).count(READ_FRAME)
    with pytest.raises(Exception) as err:
        reader.read_selected_card()
    exc = err.value
    assert exc.sw3 is sw3  # type: ignore[attr-defined]
    assert bytes(sim.received).count(READ_FRAME) == before + 1  # never retried
    if sw3 in HARDWARE:
        assert isinstance(exc, IdCardHardwareError) and isinstance(exc, HardwareError)
        assert reader.status.status is DeviceStatus.HARDWARE_ERROR
        assert exc.recovery in (Recovery.MAINTENANCE, Recovery.RESET)
    elif sw3 in PROTOCOL:
        assert isinstance(exc, ProtocolError)
        assert reader.status.status is DeviceStatus.ONLINE
    else:
        assert isinstance(exc, UserActionError) and exc.recovery is Recovery.USER
        assert isinstance(exc, IdCardNoCard if sw3 in NO_CARD else IdCardReadFailed)
        assert reader.status.status is DeviceStatus.ONLINE
    # recovery: the next read of the still-selected card works and the status is back online
    assert reader.read_selected_card().record == ZHANG_SAN
    assert reader.status.status is DeviceStatus.ONLINE


def test_sam_self_test_failure_on_probe(sim: IdCardSimulator, reader: IdCardReader) -> None:
    sim.ctl_fail(sw3="sam_self_test_failed")
    with pytest.raises(IdCardHardwareError) as err:
        reader.probe()
    assert err.value.recovery is Recovery.MAINTENANCE
    assert reader.status.status is DeviceStatus.HARDWARE_ERROR
    assert reader.probe().startswith("SAM ")
    assert reader.status.status is DeviceStatus.ONLINE


def test_reader_rejecting_our_checksum_is_retried_once(sim: IdCardSimulator, reader: IdCardReader) -> None:
    sim.ctl_fail(sw3="10", command="sam_status")
    assert reader.sam_status() is Sw3.OK
    sim.ctl_fail(sw3="checksum_error", times=2, command="sam_status")
    with pytest.raises(IdCardChecksumError):
        reader.sam_status()


def test_corrupted_answer_is_retried_once_then_reported(sim: IdCardSimulator, reader: IdCardReader) -> None:
    sim.ctl_insert(card="zhang_san")
    sim.ctl_corrupt(times=1)
    before = bytes(sim.received).count(READ_FRAME)
    assert reader.find_card()  # find answer corrupted once, retried
    reader.select_card()
    sim.ctl_corrupt(times=1)
    assert reader.read_selected_card().record == ZHANG_SAN
    assert bytes(sim.received).count(READ_FRAME) == before + 2
    sim.ctl_corrupt(times=2)
    with pytest.raises(IdCardChecksumError) as err:
        reader.read_selected_card()
    assert err.value.recovery is Recovery.RETRY
    assert reader.read_selected_card().record == ZHANG_SAN  # recovered


def test_silence_times_out_then_recovers(sim: IdCardSimulator, reader: IdCardReader) -> None:
    sim.ctl_silence(on=True)
    with pytest.raises(DeviceTimeout):
        reader.sam_status(timeout=0.3)
    assert reader.status.status is DeviceStatus.OFFLINE
    sim.ctl_silence(on=False)
    assert reader.sam_status() is Sw3.OK
    assert reader.status.status is DeviceStatus.ONLINE


def test_card_left_on_the_reader_is_not_read_again(sim: IdCardSimulator, reader: IdCardReader) -> None:
    sim.ctl_insert(card="zhang_san")
    assert reader.wait_for_card(timeout=2).record == ZHANG_SAN
    with pytest.raises(IdCardWaitTimeout) as err:
        reader.wait_for_card(timeout=0.7)
    assert err.value.recovery is Recovery.USER
    assert sim.reads == 1
    sim.ctl_remove()
    sim.ctl_insert(card="li_si")
    assert reader.wait_for_card(timeout=2).record == LI_SI


def test_driver_waits_for_removal_even_if_the_module_finds_the_card_again(
    sim: IdCardSimulator, reader: IdCardReader
) -> None:
    sim.ctl_insert(card="zhang_san")
    reader.read_card()
    sim.ctl_insert(card="zhang_san")  # module forgets the read; the card never left the field
    assert reader.find_card() is False
    sim.ctl_remove()
    assert reader.find_card() is False
    sim.ctl_insert(card="zhang_san")
    assert reader.find_card() is True


def test_poller_reads_each_placed_card_once_at_a_gentle_rate(sim: IdCardSimulator, reader: IdCardReader) -> None:
    reads: list[CardRead] = []
    got = threading.Event()

    def on_card(read: CardRead) -> None:
        reads.append(read)
        got.set()

    poller = CardPoller(reader, on_card).start()
    try:
        sim.ctl_insert(card="zhang_san")
        assert got.wait(3)
        got.clear()
        finds_before = bytes(sim.received).count(FIND_FRAME)
        time.sleep(1.0)
        finds = bytes(sim.received).count(FIND_FRAME) - finds_before
        assert len(reads) == 1  # the card stayed on the reader: not read again
        assert 2 <= finds <= 1.0 / 0.3 + 1  # still polling, never faster than every 300 ms
        sim.ctl_remove()
        time.sleep(0.4)
        sim.ctl_insert(card="li_si")
        assert got.wait(3)
        assert [r.record for r in reads] == [ZHANG_SAN, LI_SI]
    finally:
        poller.stop()
    assert not poller.running


def test_cancel_stops_waiting(reader: IdCardReader) -> None:
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    with pytest.raises(DeviceCancelled):
        reader.wait_for_card(timeout=10, cancel=token)


def test_stopped_simulator_is_offline_and_a_new_one_is_reopened(
    sim: IdCardSimulator, reader: IdCardReader, link: str
) -> None:
    seen: list[DeviceStatus] = []
    reader.status.subscribe(lambda change: seen.append(change.new))
    sim.stop()
    with pytest.raises(DeviceOffline):
        reader.sam_status()
    assert reader.status.status is DeviceStatus.OFFLINE
    with pytest.raises(DeviceOffline):
        reader.open()
    with IdCardSimulator(pacing=False, link=link) as again:
        reader.close()
        reader.open()
        again.ctl_insert(card="li_si")
        assert reader.read_card().record == LI_SI
        assert reader.status.status is DeviceStatus.ONLINE
    assert DeviceStatus.OFFLINE in seen


def test_poller_recovers_after_the_device_comes_back(link: str) -> None:
    reads: list[CardRead] = []
    errors: list[Exception] = []
    got = threading.Event()
    first = IdCardSimulator(pacing=False, link=link).start()
    reader = IdCardReader(link, timeout=0.5, find_timeout=0.3, wlt_decoder=SimulatorPhotoDecoder())
    poller = CardPoller(reader, lambda r: (reads.append(r), got.set()), errors.append).start()
    try:
        time.sleep(0.4)
        first.stop()
        time.sleep(0.8)
        assert any(isinstance(e, DeviceOffline) for e in errors)
        with IdCardSimulator(pacing=False, link=link) as second:
            second.ctl_insert(card="zhang_san")
            assert got.wait(4)
        assert reads[0].record == ZHANG_SAN
    finally:
        poller.stop()
        reader.close()


def test_set_baudrate(sim: IdCardSimulator, reader: IdCardReader) -> None:
    reader.set_baudrate(57600)
    # The module answers 60 xx at the old rate and switches after it; the next exchange is
    # handled only once the switch is done, so it is the point where both sides must agree.
    assert reader.sam_status() is Sw3.OK
    assert sim.baudrate == 57600 and reader.baudrate == 57600
