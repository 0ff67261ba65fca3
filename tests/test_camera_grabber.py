"""The camera driver against the camera simulator: real HTTP MJPEG, decoded by OpenCV's FFmpeg backend."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from devices.camera import Camera, CameraCancelled, CameraConfigError, CameraSimulator, CameraTimeout, CameraUnavailable
from devices.cancel import CancelToken
from devices.errors import ConfigError, DeviceOffline, DeviceTimeout
from devices.status import DeviceStatus, StatusChange

SIZE = (320, 240)
RED, BLUE, GREEN = (0, 0, 255), (255, 0, 0), (0, 255, 0)


def wait_until(predicate: Callable[[], bool], what: str, seconds: float = 8.0) -> None:
    """Poll until true; the limit is only a guard against hanging, not a speed requirement."""
    end = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


def solid(tmp_path: Path, bgr: tuple[int, int, int], name: str | None = None, size: tuple[int, int] = SIZE) -> str:
    path = tmp_path / (name or f"solid_{bgr[0]}_{bgr[1]}_{bgr[2]}.png")
    image = np.zeros((size[1], size[0], 3), np.uint8)
    image[:] = bgr
    cv2.imwrite(str(path), image)
    return str(path)


def colour_of(image: np.ndarray) -> tuple[int, int, int]:
    b, g, r = image.reshape(-1, 3).mean(axis=0)
    return round(b), round(g), round(r)


def is_colour(image: np.ndarray, bgr: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour_of(image), bgr, strict=True))


def frame_with(cam: Camera, bgr: tuple[int, int, int], max_frames: int = 60) -> int:
    """Read frames until one shows ``bgr``; returns how many frames that took."""
    seq = None
    for n in range(1, max_frames + 1):
        frame = cam.wait_frame(seq, timeout=5)
        seq = frame.seq
        if is_colour(frame.image, bgr):
            return n
    raise AssertionError(f"no {bgr} frame in {max_frames} frames; last {colour_of(frame.image)}")


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[CameraSimulator]:
    simulator = CameraSimulator(fps=30, size=SIZE)
    simulator.ctl_show(path=solid(tmp_path, RED))
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def cam(sim: CameraSimulator) -> Iterator[Camera]:
    camera = Camera(sim.url, name="face_camera", reconnect_seconds=0.05, reconnect_max_seconds=0.2, read_timeout=0.5)
    camera.start()
    yield camera
    sim.ctl_stall(stalled=False)
    camera.stop()


def test_frames_carry_the_simulators_picture(cam: Camera) -> None:
    frame = cam.wait_frame(timeout=5)
    assert is_colour(frame.image, RED), colour_of(frame.image)
    assert frame.size == SIZE and frame.image.dtype == np.uint8 and frame.image.shape == (240, 320, 3)
    assert frame.camera == "face_camera"
    assert cam.resolution == SIZE
    assert cam.status.status is DeviceStatus.ONLINE


def test_switching_scene_at_run_time_reaches_the_driver_within_a_few_frames(
    cam: Camera, sim: CameraSimulator, tmp_path: Path
) -> None:
    frame_with(cam, RED)
    sim.ctl_show(path=solid(tmp_path, BLUE))
    assert frame_with(cam, BLUE) <= 10
    sim.ctl_show(path=solid(tmp_path, GREEN))
    assert frame_with(cam, GREEN) <= 10


def test_latest_never_goes_back_in_sequence(cam: Camera, sim: CameraSimulator, tmp_path: Path) -> None:
    first = cam.wait_frame(timeout=5)
    seen = [first.seq]
    sim.ctl_show(path=solid(tmp_path, BLUE))
    for _ in range(40):
        frame = cam.latest()
        assert frame is not None
        seen.append(frame.seq)
        time.sleep(0.005)
    assert seen == sorted(seen)
    after = cam.wait_frame(after_seq=seen[-1], timeout=5)
    assert after.seq > seen[-1]
    assert cam.latest(max_age=60).seq >= after.seq  # type: ignore[union-attr]


def test_latest_with_max_age_refuses_a_stale_frame(cam: Camera, sim: CameraSimulator) -> None:
    cam.wait_frame(timeout=5)
    sim.ctl_stall()
    frame = cam.latest()
    assert frame is not None
    wait_until(lambda: frame.age > 0.2, "the held frame to age")
    assert cam.latest(max_age=0.2) is None or cam.latest(max_age=0.2).seq > frame.seq  # type: ignore[union-attr]


def test_frames_are_read_only_and_their_repr_holds_no_pixels(cam: Camera) -> None:
    frame = cam.wait_frame(timeout=5)
    with pytest.raises(ValueError):
        frame.image[0, 0, 0] = 1
    assert "array" not in repr(frame) and "image" not in repr(frame)


def test_unplug_goes_offline_and_plug_comes_back_online_by_itself(cam: Camera, sim: CameraSimulator) -> None:
    before = cam.wait_frame(timeout=5)
    changes: list[StatusChange] = []
    cam.status.subscribe(changes.append)
    connects = cam.connects

    sim.ctl_unplug()
    wait_until(lambda: cam.status.status is DeviceStatus.OFFLINE, "OFFLINE after unplug")
    assert cam.latest() is None  # an offline camera has no current picture
    with pytest.raises(CameraUnavailable) as err:
        cam.wait_frame(timeout=2)
    assert isinstance(err.value, DeviceOffline) and err.value.code == "camera.unavailable"

    sim.ctl_plug()
    wait_until(lambda: cam.status.status is DeviceStatus.ONLINE, "ONLINE after plug")
    again = cam.wait_frame(timeout=5)
    assert again.seq > before.seq
    assert cam.connects > connects
    assert [c.new for c in changes][:1] == [DeviceStatus.OFFLINE] and changes[-1].new is DeviceStatus.ONLINE


def test_a_stalled_stream_goes_offline_after_the_read_timeout_and_recovers(cam: Camera, sim: CameraSimulator) -> None:
    cam.wait_frame(timeout=5)
    sim.ctl_stall()
    wait_until(lambda: cam.status.status is DeviceStatus.OFFLINE, "OFFLINE when frames stop")
    sim.ctl_stall(stalled=False)
    wait_until(lambda: cam.status.status is DeviceStatus.ONLINE, "ONLINE when frames come again")
    assert is_colour(cam.wait_frame(timeout=5).image, RED)


def test_wait_frame_times_out_and_cancels_while_connected_but_silent(sim: CameraSimulator) -> None:
    with Camera(sim.url, reconnect_seconds=0.05, read_timeout=3.0) as cam:
        cam.wait_frame(timeout=5)
        sim.ctl_stall()
        time.sleep(0.1)  # a frame already on the wire may still land
        with pytest.raises(CameraTimeout) as err:
            cam.wait_frame(timeout=0.2)
        assert isinstance(err.value, DeviceTimeout)
        token = CancelToken()
        threading.Timer(0.1, token.cancel).start()
        with pytest.raises(CameraCancelled):
            cam.wait_frame(timeout=5, cancel=token)
        sim.ctl_stall(stalled=False)
        cam.wait_frame(timeout=5)


def test_a_source_that_does_not_exist_is_a_typed_error_and_offline(tmp_path: Path) -> None:
    for source in (str(tmp_path / "no_such_camera.mjpg"), "http://127.0.0.1:9/stream.mjpg"):
        cam = Camera(source, reconnect_seconds=0.05, read_timeout=0.5)
        with pytest.raises(CameraUnavailable):
            cam.probe()
        assert cam.status.status is DeviceStatus.OFFLINE
        cam.start()
        try:
            with pytest.raises(CameraUnavailable) as err:
                cam.wait_frame(timeout=5)
            assert "cannot open" in str(err.value)
            assert cam.status.status is DeviceStatus.OFFLINE and "cannot open" in cam.status.detail
            assert cam.running  # keeps trying: a camera plugged in later is picked up
        finally:
            cam.stop()


def test_a_camera_plugged_in_after_start_is_picked_up(tmp_path: Path) -> None:
    simulator = CameraSimulator(fps=30, size=SIZE)
    simulator.ctl_show(path=solid(tmp_path, BLUE))
    simulator.start()
    url = simulator.url
    simulator.ctl_unplug()
    with Camera(url, reconnect_seconds=0.05, reconnect_max_seconds=0.1, read_timeout=0.5) as cam:
        wait_until(lambda: "cannot open" in cam.status.detail, "a failed open")
        simulator.ctl_plug()
        wait_until(lambda: cam.status.status is DeviceStatus.ONLINE, "ONLINE once plugged")
        assert is_colour(cam.wait_frame(timeout=5).image, BLUE)
    simulator.stop()


def test_stop_then_start_again_works_and_numbers_keep_growing(cam: Camera) -> None:
    last = cam.wait_frame(timeout=5).seq
    cam.stop()
    assert cam.status.status is DeviceStatus.OFFLINE and cam.status.detail == "stopped"
    assert cam.latest() is None  # no biometric picture lingers after stop
    with pytest.raises(CameraUnavailable) as err:
        cam.wait_frame(timeout=1)
    assert err.value.code == "camera.not_started"
    cam.start()
    frame = cam.wait_frame(timeout=5)
    assert frame.seq > last and is_colour(frame.image, RED)
    assert cam.status.status is DeviceStatus.ONLINE


def test_probe_describes_the_camera_before_and_after_start(sim: CameraSimulator) -> None:
    cam = Camera(sim.url, read_timeout=1.0)
    assert cam.probe(timeout=5).startswith("320x240")
    cam.start()
    try:
        assert "320x240" in cam.probe(timeout=5) and "FFMPEG" in cam.probe(timeout=5)
        assert cam.state()["resolution"] == SIZE and cam.state()["status"] == "online"
    finally:
        cam.stop()


def test_document_scene_arrives_at_5_megapixels_after_the_size_change(tmp_path: Path) -> None:
    simulator = CameraSimulator(fps=10)  # no forced size: scenes keep their own
    simulator.ctl_show(path=solid(tmp_path, RED))
    simulator.start()
    with Camera(simulator.url, name="document_camera", width=2592, height=1944, reconnect_seconds=0.05) as cam:
        assert cam.wait_frame(timeout=5).size == SIZE
        assert cam.resolution == SIZE  # asked 2592x1944, got less: logged, and visible here
        simulator.ctl_show(scene="document")
        wait_until(lambda: cam.resolution == (2592, 1944), "the 5 MP document frame")
        frame = cam.wait_frame(timeout=5)
        assert frame.size == (2592, 1944)
        page = frame.image[900:1000, 1250:1350]  # centre of the frame lies on the white page
        assert page.mean() > 200
    simulator.stop()


def test_an_image_sequence_plays_in_a_loop(cam: Camera, sim: CameraSimulator, tmp_path: Path) -> None:
    folder = tmp_path / "blink"
    folder.mkdir()
    for i, colour in enumerate((RED, GREEN, BLUE)):
        solid(folder, colour, name=f"{i:03d}.png")
    assert sim.ctl_show(path=str(folder))["frames"] == 3
    for colour in (GREEN, BLUE, RED, GREEN):
        frame_with(cam, colour)


def test_impossible_settings_are_config_errors() -> None:
    with pytest.raises(CameraConfigError) as err:
        Camera(0, fourcc="MJPEG")
    assert isinstance(err.value, ConfigError) and err.value.code == "camera.config"
    with pytest.raises(CameraConfigError):
        Camera(0, width=0)
    assert Camera("0").source == 0  # a config file's "0" is /dev/video0
