"""The fingerprint driver against its simulator over a real pty: flows, faults and recovery."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.cancel import CancelToken, Deadline
from devices.errors import DeviceCancelled, DeviceOffline, DeviceTimeout, Recovery
from devices.fingerprint import (
    FingerprintBadPage,
    FingerprintBadTemplate,
    FingerprintChecksumError,
    FingerprintEmptyPage,
    FingerprintEnrollMismatch,
    FingerprintFewFeatures,
    FingerprintHardwareError,
    FingerprintImageFailed,
    FingerprintInvalidImage,
    FingerprintMessyImage,
    FingerprintNoFinger,
    FingerprintNotLifted,
    FingerprintSensor,
    FingerprintSimulator,
    FingerprintUserError,
    FingerprintWrongPassword,
    Packet,
    PacketReader,
    PacketType,
    SysParam,
)
from devices.fingerprint.protocol import (
    Confirmation,
    Instruction,
    decode_ack,
    decode_packet,
    encode_command,
)
from devices.serial_link import SerialLink
from devices.status import DeviceStatus


@pytest.fixture
def sim() -> Iterator[FingerprintSimulator]:
    with FingerprintSimulator(pacing=False) as s:
        yield s  # type: ignore[misc]


def make_sensor(port: str, **kw: object) -> FingerprintSensor:
    kw.setdefault("timeout", 0.5)
    kw.setdefault("finger_timeout", 3.0)
    kw.setdefault("poll_interval", 0.01)
    return FingerprintSensor(port, **kw)  # type: ignore[arg-type]


@pytest.fixture
def sensor(sim: FingerprintSimulator) -> Iterator[FingerprintSensor]:
    s = make_sensor(sim.port)
    s.open()
    yield s
    s.close()


def wait_for(cond, seconds: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.005)


def person(sim: FingerprintSimulator, first: str, second: str) -> threading.Thread:
    """A resident who lifts after the first capture and presses again once the lift was seen."""

    def act() -> None:
        sim.ctl_place(finger=first)
        wait_for(lambda: sim.buffers[1] is not None)
        polls = sim.empty_polls
        sim.ctl_lift()
        wait_for(lambda: sim.empty_polls > polls)
        sim.ctl_place(finger=second)

    t = threading.Thread(target=act, daemon=True)
    t.start()
    return t


def test_open_reads_parameters_and_probe_describes_the_sensor(
    sim: FingerprintSimulator, sensor: FingerprintSensor
) -> None:
    assert sensor.status.status is DeviceStatus.ONLINE
    params = sensor.read_sys_para()
    assert (params.capacity, params.packet_size, params.baudrate, params.security_level) == (
        300, 128, 57600, 3,
    )
    assert params.password_verified
    sim.ctl_store(finger="zoe", page=4)
    assert sensor.probe().startswith("capacity 300") and sensor.probe().endswith("1 templates")
    sensor.handshake()
    sensor.get_echo()


def test_enroll_store_then_verify_same_finger_matches_other_does_not(
    sim: FingerprintSimulator, sensor: FingerprintSensor
) -> None:
    person(sim, "alice-right-index", "alice-right-index")
    template = sensor.enroll(page=7)
    assert len(template) == 512
    assert sim.ctl_state()["pages"] == [7]
    assert sensor.template_count() == 1 and sensor.read_index_table() == [7]

    sim.ctl_place(finger="alice-right-index")
    matched, score = sensor.verify(template)
    assert matched and score >= 50
    sim.ctl_place(finger="bob-left-thumb")
    matched, score = sensor.verify(template)
    assert not matched and score < 50
    assert sensor.status.status is DeviceStatus.ONLINE


def test_enroll_with_two_different_fingers_is_a_mismatch(
    sim: FingerprintSimulator, sensor: FingerprintSensor
) -> None:
    person(sim, "alice-right-index", "bob-left-thumb")
    with pytest.raises(FingerprintEnrollMismatch) as err:
        sensor.enroll()
    assert err.value.recovery is Recovery.USER


def test_identify_finds_the_right_page_and_none_for_a_stranger(
    sim: FingerprintSimulator, sensor: FingerprintSensor
) -> None:
    sim.ctl_store(finger="alice", page=5)
    sim.ctl_store(finger="bob", page=7)
    sim.ctl_place(finger="bob")
    page, score = sensor.identify()  # type: ignore[misc]
    assert page == 7 and score >= 50
    sim.ctl_place(finger="carol")
    assert sensor.identify() is None
    sim.ctl_place(finger="bob")
    assert sensor.identify(start=0, count=6) is None  # page 7 outside the searched range


@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_template_round_trip_as_data_packets_of_each_size(
    sim: FingerprintSimulator, sensor: FingerprintSensor, size: int
) -> None:
    sensor.set_sys_para(SysParam.PACKET_SIZE, [32, 64, 128, 256].index(size))
    assert sensor.params is not None and sensor.params.packet_size == size
    sim.ctl_store(finger="alice", page=1)
    sensor.load_char(1, 1)
    up = sensor.up_char(1)
    assert up == sim.store[1]

    sent_before = len(sim.received)
    changed = bytes(b ^ 0x5A for b in up)
    sensor.down_char(2, changed)
    sensor.handshake()  # answered only after the data packets were read
    assert sensor.up_char(2) == changed
    host_packets = [
        p for p in PacketReader().feed(bytes(sim.received[sent_before:])) if isinstance(p, Packet)
    ]
    data = [p for p in host_packets if p.pid in (PacketType.DATA, PacketType.END_DATA)]
    assert [len(p.payload) for p in data] == [size] * (512 // size)
    assert data[-1].pid is PacketType.END_DATA


def test_wrong_password_is_a_maintenance_error_and_right_one_opens() -> None:
    with FingerprintSimulator(pacing=False, password=0xC0FFEE) as sim:
        wrong = make_sensor(sim.port, password=1)
        with pytest.raises(FingerprintWrongPassword) as err:
            wrong.open()
        assert err.value.recovery is Recovery.MAINTENANCE
        assert wrong.status.status is DeviceStatus.HARDWARE_ERROR
        assert not wrong.link.is_open

        right = make_sensor(sim.port, password=0xC0FFEE)
        right.open()
        assert right.template_count() == 0
        # Power cycle (replug): the sensor wants the password again; the driver gives it.
        sim.ctl_unplug()
        sim.ctl_plug()
        assert not sim.verified
        assert right.template_count() == 0
        assert sim.verified
        right.close()


def test_commands_before_the_password_get_password_needed_on_the_wire() -> None:
    with FingerprintSimulator(pacing=False, password=42) as sim:
        link = SerialLink(sim.port, 57600, device="fp")
        link.open()
        link.write(encode_command(Instruction.TEMPLATE_NUM))
        frame = link.read_exact(14, Deadline(2))
        ack = decode_ack(decode_packet(frame))
        assert ack.confirmation is Confirmation.PASSWORD_NEEDED and ack.data == b"\x00\x00"
        link.close()


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("messy", FingerprintMessyImage),
        ("few_features", FingerprintFewFeatures),
        ("invalid", FingerprintInvalidImage),
        ("failed", FingerprintImageFailed),
    ],
)
def test_bad_images_are_press_again_user_errors_then_capture_works(
    sim: FingerprintSimulator, sensor: FingerprintSensor, kind: str, error: type[Exception]
) -> None:
    sim.ctl_place(finger="alice")
    sim.ctl_bad_image(kind=kind)
    with pytest.raises(error) as err:
        sensor.capture(1)
    assert isinstance(err.value, FingerprintUserError)
    assert err.value.recovery is Recovery.USER and err.value.code == "fingerprint.press_again"
    assert sensor.status.status is DeviceStatus.ONLINE
    sensor.capture(1)
    assert sim.buffers[1] is not None


def test_no_finger_until_timeout_and_finger_not_lifted(
    sim: FingerprintSimulator, sensor: FingerprintSensor
) -> None:
    with pytest.raises(FingerprintNoFinger) as err:
        sensor.capture(1, timeout=0.2)
    assert err.value.recovery is Recovery.USER
    assert sim.empty_polls > 1  # it kept polling
    sim.ctl_place(finger="alice")
    with pytest.raises(FingerprintNotLifted):
        sensor.wait_finger_lifted(timeout=0.2)
    sim.ctl_lift()
    sensor.wait_finger_lifted(timeout=1)


def test_placing_the_finger_late_is_still_captured(
    sim: FingerprintSimulator, sensor: FingerprintSensor
) -> None:
    threading.Timer(0.1, sim.ctl_place, kwargs={"finger": "alice"}).start()
    sensor.capture(2, timeout=3)
    assert sim.buffers[2] is not None


def test_cancel_stops_waiting_for_a_finger(sensor: FingerprintSensor) -> None:
    token = CancelToken()
    threading.Timer(0.1, token.cancel).start()
    with pytest.raises(DeviceCancelled):
        sensor.enroll(timeout=30, cancel=token)
    assert sensor.status.status is DeviceStatus.ONLINE


def test_unplugged_sensor_times_out_goes_offline_and_recovers(
    sim: FingerprintSimulator, sensor: FingerprintSensor
) -> None:
    sim.ctl_unplug()
    with pytest.raises(DeviceTimeout):
        sensor.template_count()
    assert sensor.status.status is DeviceStatus.OFFLINE
    sim.ctl_plug()
    assert "0 templates" in sensor.probe()
    assert sensor.status.status is DeviceStatus.ONLINE


def test_lost_port_is_offline_and_reopen_works(tmp_path: Path) -> None:
    link = str(tmp_path / "fp")
    first = FingerprintSimulator(pacing=False, link=link).start()
    sensor = make_sensor(link)
    sensor.open()
    first.stop()
    with pytest.raises(DeviceOffline):
        sensor.template_count()
    assert sensor.status.status is DeviceStatus.OFFLINE
    with FingerprintSimulator(pacing=False, link=link):
        sensor.open()
        assert sensor.template_count() == 0
        assert sensor.status.status is DeviceStatus.ONLINE
        sensor.close()


def test_flash_fault_is_a_hardware_error(sim: FingerprintSimulator, sensor: FingerprintSensor) -> None:
    sim.ctl_flash_fault()
    sim.ctl_place(finger="alice")
    sensor.capture(1)
    with pytest.raises(FingerprintHardwareError) as err:
        sensor.store(1, 0)
    assert err.value.recovery is Recovery.MAINTENANCE
    assert sensor.status.status is DeviceStatus.HARDWARE_ERROR
    with pytest.raises(FingerprintHardwareError):
        sensor.empty()
    sim.ctl_flash_fault(on=False)
    sensor.store(1, 0)
    assert sensor.status.status is DeviceStatus.ONLINE and sim.ctl_state()["pages"] == [0]


def test_corrupted_answer_is_a_retryable_checksum_error(
    sim: FingerprintSimulator, sensor: FingerprintSensor
) -> None:
    sim.ctl_corrupt(count=1)  # one garbled answer: asked again, the caller never hears of it
    assert sensor.template_count() == 0
    sim.ctl_corrupt(count=sensor.protocol_retries + 1)  # garbled every time: the error reaches the caller
    with pytest.raises(FingerprintChecksumError) as err:
        sensor.template_count()
    assert err.value.recovery is Recovery.RETRY
    assert sensor.template_count() == 0


def test_simulator_answers_a_corrupted_command_with_packet_error(sim: FingerprintSimulator) -> None:
    link = SerialLink(sim.port, 57600, device="fp")
    link.open()
    bad = bytearray(encode_command(Instruction.GEN_IMG))
    bad[-1] ^= 1
    link.write(b"\x00\x13" + bytes(bad))
    ack = decode_ack(decode_packet(link.read_exact(12, Deadline(2))))
    assert ack.confirmation is Confirmation.PACKET_ERROR
    link.close()


def test_other_address_gets_no_answer(sim: FingerprintSimulator) -> None:
    other = make_sensor(sim.port, address=0x12345678, timeout=0.2)
    with pytest.raises(DeviceTimeout):
        other.open()
    assert other.status.status is DeviceStatus.OFFLINE


def test_pages_delete_empty_and_bad_arguments(sim: FingerprintSimulator, sensor: FingerprintSensor) -> None:
    for page in (0, 1, 2, 260):
        sim.ctl_store(finger=f"f{page}", page=page)
    assert sensor.read_index_table() == [0, 1, 2, 260]
    assert sensor.read_index_table(1) == [260]
    sensor.delete(1, 2)
    assert sensor.read_index_table() == [0, 260]
    with pytest.raises(FingerprintBadPage):
        sensor.store(1, 300)
    with pytest.raises(FingerprintEmptyPage):
        sensor.load_char(1, 1)
    with pytest.raises(FingerprintBadTemplate):
        sensor.down_char(1, b"short")
    sensor.empty()
    assert sensor.template_count() == 0


def test_soft_reset_and_security_level(sim: FingerprintSimulator) -> None:
    sim.password = 7
    sensor = make_sensor(sim.port, password=7)
    sensor.open()
    sensor.set_sys_para(SysParam.SECURITY, 5)
    assert sensor.params is not None and sensor.params.security_level == 5
    sensor.soft_reset()
    assert sim.verified  # the driver verified the password again after the reset
    assert sensor.template_count() == 0
    sensor.close()


def test_image_upload_and_baud_change(sim: FingerprintSimulator, sensor: FingerprintSensor) -> None:
    sim.ctl_place(finger="alice")
    sensor.gen_img()
    image = sensor.up_image()
    assert len(image) == 256 * 288 // 2
    sensor.set_sys_para(SysParam.BAUD, 12)
    assert sensor.link.baudrate == 115200
    assert sensor.params is not None and sensor.params.baudrate == 115200
    assert sim.baudrate == 115200


def test_simulator_actions_state_and_clear(sim: FingerprintSimulator) -> None:
    assert {"place", "lift", "bad_image", "flash_fault", "corrupt", "store", "clear", "state"} <= set(
        sim.actions()
    )
    sim.control("store", finger="alice", page=3)
    sim.control("place", finger="alice")
    sim.control("bad-image", kind="few_features")
    state = sim.control("state")
    assert (state["pages"], state["finger"], state["bad_images"]) == ([3], "alice", ["few_features"])
    sim.control("clear")
    state = sim.control("state")
    assert (state["pages"], state["finger"], state["bad_images"]) == ([], None, [])
    with pytest.raises(ValueError):
        sim.control("bad_image", kind="wet")
