"""The camera simulator on its own: the MJPEG wire, the scene table, pictures from paths, control actions."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from devices.camera import DOCUMENT_SIZE, FACE_SIZE, SCENES, Camera, CameraError, CameraSimulator, SceneError
from devices.camera.scenes import ASSETS, build_scene, load_path, render_document

SIZE = (320, 240)


@pytest.fixture
def sim() -> Iterator[CameraSimulator]:
    simulator = CameraSimulator(fps=30, size=SIZE).start()
    yield simulator
    simulator.stop()


def http_get(port: int, path: str, want: int = 4096) -> bytes:
    """Raw bytes of a GET, read until ``want`` bytes or the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        data = b""
        while len(data) < want:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def test_the_stream_is_multipart_mjpeg_with_jpeg_parts(sim: CameraSimulator) -> None:
    data = http_get(sim.port, "/stream.mjpg", want=30_000)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200")
    assert b"Content-Type: multipart/x-mixed-replace; boundary=kioskframe" in head
    parts = body.split(b"--kioskframe\r\n")[1:-1]  # the last one may be cut off
    assert len(parts) >= 2
    for part in parts:
        headers, _, payload = part.partition(b"\r\n\r\n")
        assert b"Content-Type: image/jpeg" in headers
        length = int(headers.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        jpeg = payload[:length]
        assert payload[length:] == b"\r\n"
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and (image.shape[1], image.shape[0]) == SIZE


def test_other_paths_are_not_found(sim: CameraSimulator) -> None:
    assert http_get(sim.port, "/snapshot.jpg").startswith(b"HTTP/1.0 404")


def test_unplug_refuses_connections_and_plug_serves_the_same_url(sim: CameraSimulator) -> None:
    url, port = sim.url, sim.port
    sim.ctl_unplug()
    assert sim.ctl_state()["plugged"] is False
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert sim.ctl_plug() == {"plugged": True, "url": url}
    assert http_get(port, "/stream.mjpg").startswith(b"HTTP/1.0 200")


def test_every_scene_in_the_table_builds_at_its_natural_size_and_at_a_forced_one() -> None:
    for name in SCENES:
        frames = build_scene(name)
        natural = DOCUMENT_SIZE if name == "document" else FACE_SIZE
        assert frames and all((f.shape[1], f.shape[0]) == natural for f in frames), name
        assert all((f.shape[1], f.shape[0]) == SIZE for f in build_scene(name, SIZE)), name
    pictures = {name: build_scene(name)[0] for name in ("nobody", "card_holder", "other_person", "printed_photo")}
    for a in pictures:
        for b in pictures:
            if a < b:
                assert np.abs(pictures[a].astype(int) - pictures[b].astype(int)).mean() > 5, (a, b)


def test_the_document_page_is_a_bright_rotated_quadrilateral_on_a_darker_desk() -> None:
    page = render_document()
    assert (page.shape[1], page.shape[0]) == DOCUMENT_SIZE
    grey = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    _, mask = cv2.threshold(grey, 200, 255, cv2.THRESH_BINARY)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    biggest = max(contours, key=cv2.contourArea)
    assert cv2.contourArea(biggest) > 0.3 * page.shape[0] * page.shape[1]
    (_, _), (_, _), angle = cv2.minAreaRect(biggest)
    assert min(abs(angle % 90), 90 - abs(angle % 90)) > 3  # not axis-aligned: straightening has work to do
    assert grey[grey.shape[0] // 2, grey.shape[1] // 2] > 200 and grey[5, 5] < 200


def test_unknown_scenes_and_bad_paths_are_scene_errors(sim: CameraSimulator, tmp_path: Path) -> None:
    with pytest.raises(SceneError) as err:
        sim.ctl_show(scene="nobody_at_all")
    assert isinstance(err.value, CameraError) and isinstance(err.value, ValueError)  # the control channel shows it
    with pytest.raises(SceneError):
        sim.ctl_show(path=str(tmp_path / "missing.png"))
    with pytest.raises(SceneError):
        sim.ctl_show()
    with pytest.raises(SceneError):
        sim.ctl_show(scene="nobody", path=str(ASSETS / "obama_1.jpg"))
    (tmp_path / "notes.txt").write_text("not a picture")
    with pytest.raises(SceneError):
        load_path(tmp_path / "notes.txt")
    with pytest.raises(SceneError):
        load_path(tmp_path)  # a folder without images


def test_a_video_file_and_a_folder_of_mixed_sizes_become_one_size_sequences(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10, SIZE)
    for i in range(5):
        writer.write(np.full((SIZE[1], SIZE[0], 3), i * 50, np.uint8))
    writer.release()
    frames = load_path(video)
    assert len(frames) == 5 and frames[4].mean() > frames[0].mean()

    folder = tmp_path / "seq"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((240, 320, 3), np.uint8))
    cv2.imwrite(str(folder / "b.png"), np.zeros((100, 100, 3), np.uint8))
    assert [f.shape for f in load_path(folder)] == [(240, 320, 3), (240, 320, 3)]


def test_control_dispatch_and_state(sim: CameraSimulator) -> None:
    actions = sim.actions()
    assert {"show", "scenes", "unplug", "plug", "stall", "state"} <= set(actions)
    assert all(actions.values())
    assert sim.control("show", scene="card_holder") == {"scene": "card_holder", "frames": 1, "size": SIZE}
    assert "document" in sim.control("scenes")
    with pytest.raises(KeyError):
        sim.control("explode")
    state = sim.control("state")
    assert state["scene"] == "card_holder" and state["plugged"] and state["url"] == sim.url
    assert sim.control("stall") == {"stalled": True} and sim.ctl_state()["stalled"]


def test_face_scenes_through_the_driver_are_recognisable_as_who_they_show(sim: CameraSimulator) -> None:
    face_recognition = pytest.importorskip("face_recognition")
    reference = face_recognition.face_encodings(
        cv2.cvtColor(cv2.imread(str(ASSETS / "obama_2.jpg")), cv2.COLOR_BGR2RGB)
    )[0]
    big = CameraSimulator(fps=15).start()  # 640x480: faces large enough for the HOG detector
    try:
        with Camera(big.url, reconnect_seconds=0.05) as cam:
            distances = {}
            for scene in ("nobody", "card_holder", "other_person"):
                big.ctl_show(scene=scene)
                seq = cam.wait_frame(timeout=5).seq
                frame = cam.wait_frame(after_seq=seq + 2, timeout=5)  # well after the switch
                found = face_recognition.face_encodings(cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB))
                distances[scene] = [float(d) for d in face_recognition.face_distance(found, reference)]
    finally:
        big.stop()
    assert distances["nobody"] == []
    assert len(distances["card_holder"]) == 1 and distances["card_holder"][0] < 0.6
    assert len(distances["other_person"]) == 1 and distances["other_person"][0] > 0.6
