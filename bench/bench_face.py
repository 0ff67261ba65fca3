"""Face check speed: the kiosk pipeline against face_recognition's plain use, same frames.

Baseline: what the face_recognition README does for every frame: HOG detection on the whole
640 × 480 frame (``face_locations``, upsample 1), then ``face_encodings`` and ``face_distance``.
Subject: ``FaceSession.feed`` (detect on a 320-px frame every few frames, follow with landmarks,
encode only until the vote is settled, liveness from the landmarks). Both are timed as CPU time
of this thread, each the best of a few rounds because the machine's cores are shared.

Two per-frame ratios are given, because averaging the cheap frames (tracked, skipped, refused)
in with the judged ones flatters the kiosk: over all frames, and over only the frames the kiosk
encoded (where both run the same ResNet, so the ratio cannot go far below the encoder's share).

The figure a resident feels is wall time from "face in view" to the decision, measured on the
real ``FaceWorker`` at background priority while busy loops at normal priority run beside it, with
the frames taken as from a 10 fps camera (the newest frame when the worker asks; the ones it was
too slow for are skipped).
"""

from __future__ import annotations

import importlib.util
import math
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

from devices.face import Box, FaceCheckConfig, FaceDecision, FaceSession, default_engine
from devices.face.worker import FaceWorker, FaceWorkerTimeout

ROOT = Path(__file__).resolve().parent.parent
SEQUENCES = ROOT / "tests" / "data" / "face_sequences"
ROUNDS = 3
LOAD_LIMIT_S = 20.0  # give up on a decision under load after this long


@dataclass
class Run:
    cpu_s: float
    slowest_s: float
    frames: int
    decision: FaceDecision | None
    per_frame: list[float]  # CPU seconds of each feed()
    encoded: list[bool]  # whether that feed() ran the encoder


class _CountingEngine:
    """The real engine, counting encoder calls (to tell encoded frames from cheap ones)."""

    name = "counting"

    def __init__(self) -> None:
        self.inner = default_engine()
        self.encodes = 0

    def detect(self, rgb: np.ndarray, upsample: int = 1) -> list[Box]:
        return self.inner.detect(rgb, upsample)

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        return self.inner.landmarks(rgb, box)

    def eye_points(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        return self.inner.eye_points(rgb, box)

    def encode(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        self.encodes += 1
        return self.inner.encode(rgb, box)


def _synth() -> ModuleType:
    """The test-data helper (frame synthesis), loaded by path: tests/ is not a package."""
    spec = importlib.util.spec_from_file_location("face_synth", SEQUENCES / "synth.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _baseline_cpu(frames: list[np.ndarray], card_encoding: np.ndarray) -> list[float]:
    """face_recognition's plain use, CPU seconds per frame."""
    import face_recognition

    out = []
    for frame in frames:
        start = time.thread_time()
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        locations = face_recognition.face_locations(rgb)
        encodings = face_recognition.face_encodings(rgb, locations)
        face_recognition.face_distance(encodings, card_encoding)
        out.append(time.thread_time() - start)
    return out


def _session(card: np.ndarray, frames: list[np.ndarray], config: FaceCheckConfig) -> Run:
    engine = _CountingEngine()
    per_frame: list[float] = []
    encoded: list[bool] = []
    with FaceSession(card, engine=engine, config=config) as session:
        for i, frame in enumerate(frames):
            before = engine.encodes
            start = time.thread_time()
            session.feed(frame, i / 15)  # a 15 fps preview
            per_frame.append(time.thread_time() - start)
            encoded.append(engine.encodes > before)
            if session.decision is not None:
                break
        return Run(sum(per_frame), max(per_frame), len(per_frame), session.decision, per_frame, encoded)


_HOG = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end: pass\n"


def _time_to_decision_under_load(card: np.ndarray, blink: list[np.ndarray], hogs: int) -> tuple[float, bool]:
    """Wall seconds from the first frame to the decision on the real worker, ``hogs`` busy loops
    beside it; (inf, False) when there was no decision within ``LOAD_LIMIT_S``."""
    with FaceWorker(background=True, start_timeout=120) as worker:
        procs = [subprocess.Popen([sys.executable, "-c", _HOG.format(s=120)]) for _ in range(hogs)]
        try:
            time.sleep(0.3)  # the hogs are running
            with worker.open_session(card, FaceCheckConfig(), timeout=120) as session:
                start = time.monotonic()
                while session.decision is None:
                    now = time.monotonic() - start
                    if now > LOAD_LIMIT_S:
                        return math.inf, False
                    frame = blink[int(now * 10) % len(blink)]  # what a 10 fps camera shows now
                    session.feed(frame, now, timeout=LOAD_LIMIT_S - now + 1)
                decision = session.decision
                return time.monotonic() - start, decision.accepted
        except FaceWorkerTimeout:  # starved past the limit: the worker was stopped
            return math.inf, False
        finally:
            for p in procs:
                p.kill()
                p.wait()


def _loadavg() -> str:
    try:
        return " / ".join(open("/proc/loadavg").read().split()[:3])  # noqa: SIM115 - one short read
    except OSError:
        return "unknown"


def _seconds(value: float) -> str:
    return f"> {LOAD_LIMIT_S:.0f} s" if math.isinf(value) else f"{value:.2f} s"


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
        ("45-frame stream without a blink (steady state)", stream, FaceCheckConfig(timeout_s=3600, max_timeout_s=3600)),
    ):
        runs = [_session(card, frames, cfg) for _ in range(ROUNDS)]
        if not decision_runs:
            decision_runs = runs
        best = min(runs, key=lambda r: r.cpu_s)
        base_rounds = [_baseline_cpu(frames[: best.frames], card_encoding) for _ in range(ROUNDS)]
        base = [min(times) for times in zip(*base_rounds, strict=True)]  # best of the rounds, per frame
        ours_ms, base_ms = 1000 * best.cpu_s / best.frames, 1000 * sum(base) / best.frames
        enc = [i for i, e in enumerate(best.encoded) if e]
        enc_ours = 1000 * sum(best.per_frame[i] for i in enc) / len(enc)
        enc_base = 1000 * sum(base[i] for i in enc) / len(enc)
        rows.append(
            f"| {label} | {best.frames} | {ours_ms:.1f} | {base_ms:.1f} | **{ours_ms / base_ms:.2f}×** "
            f"| {len(enc)} | {enc_ours:.1f} | {enc_base:.1f} | **{enc_ours / enc_base:.2f}×** "
            f"| {1000 * best.slowest_s:.1f} |"
        )

    load_rows = []
    for hogs, what in ((1, "1 busy loop (one core of 2 taken)"), (2, "a busy loop on every core (2)")):
        runs = [_time_to_decision_under_load(card, blink, hogs) for _ in range(ROUNDS)]
        wall = statistics.median(r[0] for r in runs)
        accepted = sum(r[1] for r in runs)
        load_rows.append(
            f"| {what} | **{_seconds(wall)}** | {_seconds(max(r[0] for r in runs))} | {accepted} of {len(runs)} |"
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
            f"process; best of {ROUNDS} rounds (per frame for the baseline). Target ratio ≤ 0.4×.\n",
            "| frames | n | kiosk ms/frame | plain ms/frame | ratio, all frames | encoded frames "
            "| kiosk ms/encoded frame | plain ms, same frames | ratio, encoded frames | kiosk slowest ms |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "The ratio over all frames averages the cheap tracked frames in; over the encoded frames "
            "the ratio is what is left of the detector's cost (HOG on 320 px instead of 640 px) next "
            "to the same ResNet encoder.\n",
            'Machine time from "face in view" to a decision (CPU summed over feed(), liveness '
            "included) on the recorded blink sequence (tests/data/face_sequences/blink_obama): "
            f"**{fastest.cpu_since_face_s:.2f} s**; accepted={fastest.accepted}, "
            f"{fastest.frames} frames, {fastest.encodings} encodings.\n",
            'Wall time from "face in view" to the decision on the real `FaceWorker` (SCHED_IDLE, as '
            "the kiosk runs it) with busy loops at normal priority beside it, frames as a 10 fps camera "
            f"shows them (the blink sequence looped); median and worst of {ROUNDS}, target ≤ 1.5 s with "
            "the card holder accepted. The machine's own load counts too: a SCHED_IDLE worker gets "
            "only what every normal-priority program leaves, so on a shared 2-core machine one busy "
            f"loop can be enough to stall it (load average when measured: {_loadavg()}):\n",
            "| load beside the worker | median | worst | card holder accepted |",
            "|---|---|---|---|",
            *load_rows,
            "",
            f"Card photo (102 × 126) encoded once per session, in the constructor: {card_ms:.0f} ms.\n",
        ]
    )


if __name__ == "__main__":
    print(section())
