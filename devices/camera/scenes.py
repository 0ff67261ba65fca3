"""What the camera simulator shows: a table of named scenes, plus pictures loaded from a path.

A scene is a LIST of BGR frames played in a loop, so a still is a one-frame scene and a recorded
sequence (a folder of images or a short video) plays exactly like a live camera would deliver it.
Face scenes are built from the small face photos in ``assets/sim/camera``; the empty room and the
document page are drawn here at run time so that no large picture is stored in the repository.

The ``blink_<photo>`` scenes are recorded blinks (``tests/data/face_sequences/synth.py``), one per
single-face photo; the face check's liveness needs one. ``blink_scene_for_card_photo`` picks the
one to show for an ID card: the same person from ANOTHER photo, so the face match is a real one.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from devices.camera.errors import CameraError

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "sim" / "camera"
FACE_SIZE = (640, 480)  # what a face camera typically gives; the scenes' size when none is asked
DOCUMENT_SIZE = (2592, 1944)  # 5 MP, what a 高拍仪 gives with MJPG
MAX_FRAMES = 300  # a video longer than this is cut: the simulator keeps every frame as JPEG in memory
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}

Size = tuple[int, int]


class SceneError(CameraError, ValueError):
    """A scene name or picture path the simulator cannot show (a ValueError for the control channel)."""

    code = "camera.sim_scene"


@dataclass(frozen=True)
class Scene:
    name: str
    description: str
    build: Callable[[Size | None], list[np.ndarray]]


def _resized(image: np.ndarray, size: Size | None) -> np.ndarray:
    if size is None or (image.shape[1], image.shape[0]) == tuple(size):
        return image
    return cv2.resize(image, tuple(size), interpolation=cv2.INTER_AREA)


def render_room(size: Size = FACE_SIZE) -> np.ndarray:
    """An empty service-centre corner: wall, floor, a door and a poster; deterministic."""
    w, h = size
    img = np.zeros((h, w, 3), np.uint8)
    wall = np.linspace(200, 170, h, dtype=np.float32)[:, None]
    img[:] = np.dstack([wall * 0.92, wall * 0.95, wall]).astype(np.uint8)
    floor_y = int(h * 0.72)
    img[floor_y:] = (96, 110, 128)
    cv2.line(img, (0, floor_y), (w, floor_y), (70, 80, 95), max(1, h // 160))
    door = (int(w * 0.62), int(h * 0.18), int(w * 0.86), floor_y)
    cv2.rectangle(img, door[:2], door[2:], (60, 90, 130), -1)
    cv2.circle(
        img, (door[0] + (door[2] - door[0]) // 8, (door[1] + door[3]) // 2), max(2, w // 160), (40, 180, 220), -1
    )
    poster = (int(w * 0.12), int(h * 0.2), int(w * 0.32), int(h * 0.48))
    cv2.rectangle(img, poster[:2], poster[2:], (40, 40, 190), -1)
    cv2.rectangle(
        img, (poster[0] + w // 64, poster[1] + h // 48), (poster[2] - w // 64, poster[1] + h // 12), (230, 230, 230), -1
    )
    return img


def _fit_into(canvas: np.ndarray, photo: np.ndarray, height_ratio: float) -> np.ndarray:
    """Paste ``photo`` scaled to a share of the canvas height, centred at the bottom."""
    out = canvas.copy()
    ch, cw = out.shape[:2]
    scale = min(ch * height_ratio / photo.shape[0], cw / photo.shape[1])
    pw, ph = max(1, int(photo.shape[1] * scale)), max(1, int(photo.shape[0] * scale))
    small = cv2.resize(photo, (pw, ph), interpolation=cv2.INTER_AREA)
    x, y = (cw - pw) // 2, ch - ph
    out[y : y + ph, x : x + pw] = small
    return out


def _photo(file: str) -> np.ndarray:
    path = ASSETS / file
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SceneError(f"scene picture {path} is missing or unreadable")
    return image


def render_person(file: str, size: Size | None = None) -> np.ndarray:
    """A person in front of the kiosk: the photo standing in the room."""
    return _fit_into(render_room(size or FACE_SIZE), _photo(file), 1.0)


def render_printed_photo(file: str, size: Size | None = None) -> np.ndarray:
    """A spoof attempt: a small printed photo with a white border held up, slightly tilted, in the room."""
    room = render_room(size or FACE_SIZE)
    rh, rw = room.shape[:2]
    photo = _photo(file)
    ph = int(rh * 0.45)
    pw = max(1, int(photo.shape[1] * ph / photo.shape[0]))
    printed = cv2.resize(photo, (pw, ph), interpolation=cv2.INTER_AREA)
    border = max(2, ph // 20)
    printed = cv2.copyMakeBorder(printed, border, border, border, border, cv2.BORDER_CONSTANT, value=(245, 245, 245))
    h, w = printed.shape[:2]
    centre = (rw / 2, rh * 0.45)
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 8.0, 1.0)
    matrix[:, 2] += (centre[0] - w / 2, centre[1] - h / 2)
    warped = cv2.warpAffine(printed, matrix, (rw, rh))
    mask = cv2.warpAffine(np.full((h, w), 255, np.uint8), matrix, (rw, rh))
    room[mask > 0] = warped[mask > 0]
    return room


DOCUMENT_LINES = (
    "APPLICATION FORM  No. 2026-000123",
    "Service: residence certificate",
    "Applicant: ZHANG San",
    "Address: 12 Heping Road, Xincheng Town",
    "Reason: proof of residence for school enrolment",
    "",
    "I declare that the information above is true.",
    "Signature: ____________________   Date: 2026-05-12",
)


@functools.lru_cache(maxsize=2)  # 0.7 s to draw 5 MP; the page is the same every time
def render_document(
    size: Size = DOCUMENT_SIZE, lines: tuple[str, ...] = DOCUMENT_LINES, angle: float = 7.0
) -> np.ndarray:
    """An A4 page with text lines lying at an angle on a desk, as a document camera sees it.

    The page fills about 85 % of the frame height, is rotated by ``angle`` degrees and slightly in
    perspective, so page finding and straightening have real work to do. The result is cached
    and read-only: callers copy before drawing on it.
    """
    w, h = size
    desk = np.zeros((h, w, 3), np.uint8)
    grain = np.linspace(0, 6 * math.pi, w, dtype=np.float32)
    tone = np.sin(grain)[None, :] * 8 + np.linspace(0, 12, h, dtype=np.float32)[:, None]
    desk[:] = np.dstack([60 + tone, 95 + tone, 140 + tone]).clip(0, 255).astype(np.uint8)

    page_h = int(h * 0.85)
    page_w = int(page_h * 210 / 297)
    # Paper under room light is bright but not saturated (a pure-white page would read as glare),
    # a little brighter towards the lamp at the top.
    shade = np.linspace(236, 222, page_h, dtype=np.float32)[:, None, None]
    page = np.broadcast_to(shade, (page_h, page_w, 3)).astype(np.uint8).copy()
    margin = page_w // 10
    scale = page_w / 900
    thickness = max(1, int(2 * scale))
    y = margin + int(40 * scale)
    for i, text in enumerate(lines):
        font_scale = scale * (1.3 if i == 0 else 0.95)
        cv2.putText(
            page,
            text,
            (margin, y),
            cv2.FONT_HERSHEY_SIMPLEX,
            font_scale,
            (20, 20, 20),
            thickness + (i == 0),
            cv2.LINE_AA,
        )
        y += int(70 * scale)
    for k in range(12):  # ruled lines for the "notes" part of the form
        ly = y + int((30 + 55 * k) * scale)
        if ly > page_h - margin:
            break
        cv2.line(page, (margin, ly), (page_w - margin, ly), (170, 170, 170), max(1, thickness // 2))

    corners = np.float32([[0, 0], [page_w, 0], [page_w, page_h], [0, page_h]])
    cx, cy = w / 2, h / 2
    rad = math.radians(angle)
    cos, sin = math.cos(rad), math.sin(rad)
    target = []
    for px, py in corners - (page_w / 2, page_h / 2):
        target.append([cx + px * cos - py * sin, cy + px * sin + py * cos])
    target_arr = np.float32(target)
    target_arr[0] += (w * 0.01, h * 0.01)  # a little perspective: the top edge is further from the lens
    target_arr[1] -= (w * 0.01, -h * 0.01)
    matrix = cv2.getPerspectiveTransform(corners, target_arr)
    warped = cv2.warpPerspective(page, matrix, (w, h))
    mask = cv2.warpPerspective(np.full((page_h, page_w), 255, np.uint8), matrix, (w, h))
    desk[mask > 0] = warped[mask > 0]
    desk.setflags(write=False)
    return desk


def load_path(path: str | Path, size: Size | None = None) -> list[np.ndarray]:
    """Frames from an image file, a folder of images (sorted by name) or a video file.

    All frames come out at one size (``size``, else the first frame's): a camera does not change
    its resolution from one frame to the next.
    """
    frames = _load_frames(Path(path), size)
    first = (int(frames[0].shape[1]), int(frames[0].shape[0]))
    return [_resized(f, first) for f in frames]


def _load_frames(p: Path, size: Size | None) -> list[np.ndarray]:
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SceneError(f"no images in {p}")
        return [_resized(_read_image(f), size) for f in files[:MAX_FRAMES]]
    if not p.is_file():
        raise SceneError(f"no such file or folder: {p}")
    if p.suffix.lower() in IMAGE_SUFFIXES:
        return [_resized(_read_image(p), size)]
    cap = cv2.VideoCapture(str(p), cv2.CAP_FFMPEG)
    frames: list[np.ndarray] = []
    try:
        while cap.isOpened() and len(frames) < MAX_FRAMES:
            ok, image = cap.read()
            if not ok:
                break
            frames.append(_resized(image, size))
    finally:
        cap.release()
    if not frames:
        raise SceneError(f"{p} is neither an image nor a readable video")
    return frames


def _read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SceneError(f"cannot read image {path}")
    return image


def _still(render: Callable[[Size | None], np.ndarray]) -> Callable[[Size | None], list[np.ndarray]]:
    def build(size: Size | None) -> list[np.ndarray]:
        return [_resized(render(size), size)]

    return build


SCENES: dict[str, Scene] = {
    s.name: s
    for s in (
        Scene(
            "nobody", "empty room, nobody in front of the camera", _still(lambda size: render_room(size or FACE_SIZE))
        ),
        Scene(
            "card_holder",
            "person A (the card holder) facing the camera",
            _still(lambda size: render_person("obama_1.jpg", size)),
        ),
        Scene("card_holder_2", "person A, another photo", _still(lambda size: render_person("obama_2.jpg", size))),
        Scene("other_person", "person B, not the card holder", _still(lambda size: render_person("biden_1.jpg", size))),
        Scene("other_person_2", "person B, another photo", _still(lambda size: render_person("biden_2.jpg", size))),
        Scene("two_people", "persons A and B together", _still(lambda size: render_person("two_people.jpg", size))),
        Scene(
            "printed_photo",
            "a printed photo of person A held up to the camera",
            _still(lambda size: render_printed_photo("obama_1.jpg", size)),
        ),
        Scene(
            "document",
            "an A4 form at an angle on a desk, 2592x1944",
            _still(lambda size: render_document(size or DOCUMENT_SIZE)),
        ),
    )
}


# recorded blinks: scene name → folder under ASSETS (obama_1's folder keeps its older name)
BLINK_FOLDERS = {
    "blink_obama_1": "blink_card_holder",
    "blink_obama_2": "blink_obama_2",
    "blink_biden_1": "blink_biden_1",
    "blink_biden_2": "blink_biden_2",
}
# the photos of one person (tests/data/faces/SOURCE.md): person A is obama_*, person B biden_*
PERSON_OF_PHOTO = {"obama_1": "A", "obama_2": "A", "biden_1": "B", "biden_2": "B"}


def _blink_scene(name: str, folder: str) -> Scene:
    photo = name.removeprefix("blink_")
    return Scene(
        name,
        f"person {PERSON_OF_PHOTO[photo]} ({photo}) looking at the camera and blinking once",
        lambda size: load_path(ASSETS / folder, size),
    )


SCENES.update({name: _blink_scene(name, folder) for name, folder in BLINK_FOLDERS.items()})


def blink_scene_for_card_photo(photo: object) -> str | None:
    """The blink scene for an ID card whose photo is ``photo`` (a card photo's path or stem,
    e.g. ``assets/sim/idcard/biden_1.png``): the same person blinking, recorded from another photo
    of them when there is one. None when the photo is not one of the known faces (no photo, pixels
    handed over directly, another file).
    """
    if not isinstance(photo, str | Path):
        return None
    stem = Path(str(photo)).stem
    person = PERSON_OF_PHOTO.get(stem)
    if person is None:
        return None
    others = [p for p, who in PERSON_OF_PHOTO.items() if who == person and p != stem]
    return f"blink_{(others or [stem])[0]}"


def build_scene(name: str, size: Size | None = None) -> list[np.ndarray]:
    """The frames of a named scene, at ``size`` when given."""
    scene = SCENES.get(name)
    if scene is None:
        raise SceneError(f"no scene {name!r}; known: {sorted(SCENES)}")
    return scene.build(size)
