"""Face check speed: the kiosk pipeline against face_recognition's plain use, same frames.

Baseline: what the face_recognition README does for every frame: HOG detection on the whole
640 × 480 frame (``face_locations``, upsample 1), then ``face_encodings`` and ``face_distance``.
Subject: ``FaceSession.feed`` (detect on a 320-px frame every few frames, follow with landmarks,
encode only until the vote is settled, liveness from the landmarks). Both are timed as CPU time
of this thread, each the best of a few rounds because the machine's cores are shared.
"""

from __future__ import annotations

import importlib.util
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

from devices.face import FaceCheckConfig, FaceDecision, FaceSession, default_engine

ROOT = Path(__file__).resolve().parent.parent
SEQUENCES = ROOT / "tests" / "data" / "face_sequences"
ROUNDS = 3


@dataclass
class Run:
    cpu_s: float
    slowest_s: float
    frames: int
    decision: FaceDecision | None


def _synth() -> ModuleType:
    """The test-data helper (frame synthesis), loaded by path: tests/ is not a package."""
    spec = importlib.util.spec_from_file_location("face_synth", SEQUENCES / "synth.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _baseline_cpu(frames: list[np.ndarray], card_encoding: np.ndarray) -> float:
    import face_recognition

    start = time.thread_time()
    for frame in frames:
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        locations = face_recognition.face_locations(rgb)
        encodings = face_recognition.face_encodings(rgb, locations)
        face_recognition.face_distance(encodings, card_encoding)
    return time.thread_time() - start


def _session(card: np.ndarray, frames: list[np.ndarray], config: FaceCheckConfig) -> Run:
    total, slowest, fed = 0.0, 0.0, 0
    with FaceSession(card, config=config) as session:
        for i, frame in enumerate(frames):
            start = time.thread_time()
            session.feed(frame, i / 15)  # a 15 fps preview
            spent = time.thread_time() - start
            total, slowest, fed = total + spent, max(slowest, spent), fed + 1
            if session.decision is not None:
                break
        return Run(total, slowest, fed, session.decision)


def section() -> str:
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    import face_recognition

    synth = _synth()
    default_engine()  # model loading is not part of any figure
    photo = synth.load_photo("obama_2")
    card = synth.card_photo(photo, synth.face_box(photo))
    blink = [cv2.imread(str(p)) for p in sorted((SEQUENCES / "blink_obama").glob("*.jpg"))]
    # a resident standing and moving a little without blinking: the session never decides, so
    # this is its steady per-frame cost (tracking, re-detections, identity re-checks)
    stream = [synth.jitter(blink[0], 3 * np.sin(i / 3), 2 * np.cos(i / 4), np.sin(i / 5)) for i in range(45)]

    card_rgb = cv2.cvtColor(cv2.resize(card, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC), cv2.COLOR_BGR2RGB)
    card_encoding = face_recognition.face_encodings(card_rgb)[0]

    rows = []
    decision_runs: list[Run] = []
    for label, frames, cfg in (
        ("recorded blink sequence, until the decision", blink, FaceCheckConfig()),
        ("45-frame stream without a blink (steady state)", stream, FaceCheckConfig(timeout_s=3600)),
    ):
        runs = [_session(card, frames, cfg) for _ in range(ROUNDS)]
        if not decision_runs:
            decision_runs = runs
        best = min(runs, key=lambda r: r.cpu_s)
        base = min(_baseline_cpu(frames[: best.frames], card_encoding) for _ in range(ROUNDS))
        ours_ms, base_ms = 1000 * best.cpu_s / best.frames, 1000 * base / best.frames
        rows.append(
            f"| {label} | {best.frames} | {ours_ms:.1f} | {1000 * best.slowest_s:.1f} | {base_ms:.1f} "
            f"| **{ours_ms / base_ms:.2f}×** |"
        )

    decided = [r.decision for r in decision_runs if r.decision is not None]
    fastest = min(decided, key=lambda d: d.cpu_since_face_s)

    start = time.thread_time()
    for _ in range(ROUNDS):
        FaceSession(card).close()
    card_ms = 1000 * (time.thread_time() - start) / ROUNDS

    return "\n".join(
        [
            "## Face check (devices/face)\n",
            "Per-frame CPU time of `FaceSession.feed` against face_recognition's plain use "
            "(HOG on the whole 640 × 480 frame + encoding + distance) on the same frames, same "
            f"process; best of {ROUNDS} rounds. Target ratio ≤ 0.4×. The slowest frame is one that "
            "is encoded (the encoder is the same ResNet in both).\n",
            "| frames | n | kiosk ms/frame | kiosk slowest frame ms | face_recognition plain ms/frame | ratio |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            'Machine time from "face in view" to a decision (CPU summed over feed(), liveness '
            "included) on the recorded blink sequence (tests/data/face_sequences/blink_obama): "
            f"**{fastest.cpu_since_face_s:.2f} s** (target ≤ 1.5 s); accepted={fastest.accepted}, "
            f"{fastest.frames} frames, {fastest.encodings} encodings.\n",
            f"Card photo (102 × 126) encoded once per session, in the constructor: {card_ms:.0f} ms.\n",
        ]
    )


if __name__ == "__main__":
    print(section())
