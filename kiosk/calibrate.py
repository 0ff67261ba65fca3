"""``kiosk calibrate face DIR``: the face-distance threshold from a vendor's own labelled photos.

Why this exists: the kiosk's ``match_threshold`` (0.6) is face_recognition's tolerance, chosen on
LFW (mostly Western adult faces, good photos). A kiosk compares a small, old, compressed ID-card
photo with a live camera frame, for one town's population, and the threshold that keeps false
accepts rare there is a property of that data, not of the model. The vendor collects consenting
people's photos in the field (card photo and camera frames, or any photos taken at different
times), one folder per person, and this command prints how far apart the same person's photos and
different people's photos land, with the threshold that keeps the false-accept rate at the target.

Layout: ``DIR/<person>/<photo>.jpg`` (also .jpeg, .png, .bmp). Every photo is encoded with the
same models and alignment the kiosk uses (``devices.face.DlibEngine``): the largest face in it.
Nothing is written anywhere; the encodings live only in this process. See docs/thresholds.md.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from devices.face.engine import FaceEngine, default_engine, face_distance

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
MAX_SIDE = 1280  # larger photos are shrunk first: the detector's cost grows with the pixel count


class CalibrationError(Exception):
    """The folder cannot give a threshold (missing, empty, one person with one photo, …)."""


@dataclass
class Calibration:
    genuine: list[float] = field(default_factory=list)  # distances between photos of one person
    impostor: list[float] = field(default_factory=list)  # distances between photos of two people
    people: int = 0
    photos: int = 0
    skipped: list[str] = field(default_factory=list)  # "<person>/<file>: why"


@dataclass(frozen=True)
class Suggestion:
    threshold: float
    false_accept: float  # share of impostor pairs at or under the threshold
    false_reject: float  # share of genuine pairs over it
    limited_by_data: bool  # too few impostor pairs to measure the target rate


def labelled_photos(folder: Path) -> dict[str, list[Path]]:
    """``{person: [photo, …]}`` from ``folder/<person>/<photo>``; files at the top level are ignored."""
    if not folder.is_dir():
        raise CalibrationError(f"{folder} is not a folder")
    people = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        photos = sorted(p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if photos:
            people[sub.name] = photos
    if not people:
        raise CalibrationError(f"{folder} has no <person>/<photo> sub-folders with photos")
    return people


def encode_photo(engine: FaceEngine, path: Path) -> np.ndarray:
    """The embedding of the largest face in the photo (raises ValueError when there is none)."""
    bgr = cv2.imread(str(path))
    if bgr is None:
        raise ValueError("not a readable image")
    scale = min(1.0, MAX_SIDE / max(bgr.shape[:2]))
    if scale < 1.0:
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    if max(bgr.shape[:2]) < 200:  # an ID-card-sized photo: enlarge as the kiosk does for the card
        bgr = cv2.resize(bgr, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    boxes = engine.detect(rgb, 1) or engine.detect(rgb, 2)
    if not boxes:
        raise ValueError("no face found")
    box = max(boxes, key=lambda b: b.width * b.height)
    return engine.encode(rgb, box)


def calibrate(folder: Path, engine: FaceEngine | None = None) -> Calibration:
    """Encode every photo and collect the genuine and impostor distances."""
    engine = engine or default_engine()
    result = Calibration()
    encodings: dict[str, list[np.ndarray]] = {}
    for person, photos in labelled_photos(folder).items():
        for path in photos:
            try:
                encodings.setdefault(person, []).append(encode_photo(engine, path))
            except ValueError as exc:
                result.skipped.append(f"{person}/{path.name}: {exc}")
    encodings = {p: e for p, e in encodings.items() if e}
    result.people = len(encodings)
    result.photos = sum(len(e) for e in encodings.values())
    for encs in encodings.values():
        result.genuine += [face_distance(a, b) for a, b in itertools.combinations(encs, 2)]
    for (_, ea), (_, eb) in itertools.combinations(encodings.items(), 2):
        result.impostor += [face_distance(a, b) for a in ea for b in eb]
    for encs in encodings.values():  # biometric data: do not leave it lying in memory
        for e in encs:
            e.fill(0)
    if not result.genuine or not result.impostor:
        raise CalibrationError(
            f"need at least two photos of one person and photos of two people; found {result.photos} usable "
            f"photos of {result.people} people"
            + (f" ({len(result.skipped)} skipped: {'; '.join(result.skipped)})" if result.skipped else "")
        )
    return result


def suggest_threshold(genuine: Sequence[float], impostor: Sequence[float], target_far: float = 0.001) -> Suggestion:
    """The largest threshold that accepts at most ``target_far`` of the impostor pairs.

    With fewer than 1/target_far impostor pairs the rate cannot be measured: the suggestion is then
    the middle of the gap between the farthest genuine pair and the closest impostor pair (never
    closer than 0.02 to that impostor pair), and says it is limited by the data. A few people far
    apart must not talk the kiosk into a loose threshold.
    """
    imp = sorted(impostor)
    allowed = math.floor(target_far * len(imp))  # impostor pairs that may fall at or under it
    limited = allowed == 0
    if limited:
        threshold = min((max(genuine, default=imp[0]) + imp[0]) / 2, imp[0] - 0.02)
    else:
        threshold = (imp[allowed - 1] + imp[allowed]) / 2
    threshold = math.floor(max(threshold, 0.0) * 1000) / 1000  # rounded down: never one more false accept
    far = sum(d <= threshold for d in imp) / len(imp)
    frr = sum(d > threshold for d in genuine) / len(genuine) if genuine else 0.0
    return Suggestion(threshold, far, frr, limited)


def _summary(name: str, values: Sequence[float]) -> str:
    v = np.asarray(values)
    p5, p50, p95 = np.percentile(v, (5, 50, 95))
    return (
        f"{name:<9} {len(v):>7} pairs   min {v.min():.3f}   5% {p5:.3f}   median {p50:.3f}   "
        f"95% {p95:.3f}   max {v.max():.3f}"
    )


def _histogram(genuine: Sequence[float], impostor: Sequence[float], width: int = 40) -> list[str]:
    lo = math.floor(min(min(genuine), min(impostor)) * 20) / 20
    hi = math.ceil(max(max(genuine), max(impostor)) * 20) / 20
    edges = np.arange(lo, hi + 0.05, 0.05)
    g, _ = np.histogram(genuine, edges)
    i, _ = np.histogram(impostor, edges)
    scale = max(1, int(max(g.max(), i.max())))
    lines = ["distance     genuine (G) / impostor (I)"]
    for k in range(len(edges) - 1):
        bar = "G" * math.ceil(width * g[k] / scale) + "I" * math.ceil(width * i[k] / scale)
        lines.append(f"{edges[k]:.2f}-{edges[k + 1]:.2f}  {bar}  ({g[k]} G, {i[k]} I)")
    return lines


def report(cal: Calibration, target_far: float, current: float) -> str:
    s = suggest_threshold(cal.genuine, cal.impostor, target_far)
    lines = [
        f"{cal.photos} photos of {cal.people} people encoded with the kiosk's face model",
        *(f"skipped {why}" for why in cal.skipped),
        "",
        _summary("genuine", cal.genuine),
        _summary("impostor", cal.impostor),
        "",
        *_histogram(cal.genuine, cal.impostor),
        "",
        f"suggested match_threshold: {s.threshold:.3f} (target false-accept rate {target_far:g} per pair)",
        f"  at it: false accepts {100 * s.false_accept:.2f} % of impostor pairs, "
        f"false rejects {100 * s.false_reject:.2f} % of genuine pairs (per frame; the kiosk votes over frames)",
        f"  current setting {current:.3f}: false accepts "
        f"{100 * sum(d <= current for d in cal.impostor) / len(cal.impostor):.2f} %, false rejects "
        f"{100 * sum(d > current for d in cal.genuine) / len(cal.genuine):.2f} %",
    ]
    if s.limited_by_data:
        lines.append(
            f"  limited by the data: {len(cal.impostor)} impostor pairs cannot measure a rate of {target_far:g} "
            f"(need at least {math.ceil(1 / target_far)}); the suggestion is the middle of the gap between the "
            "farthest genuine and the closest impostor pair. "
            "Collect more people before changing the kiosk's threshold."
        )
    return "\n".join(lines)


def cmd_calibrate_face(cfg: object, args: argparse.Namespace) -> int:
    from devices.face.config import FaceCheckConfig

    try:
        cal = calibrate(Path(args.dir))
    except CalibrationError as exc:
        print(f"kiosk calibrate face: {exc}", file=sys.stderr)
        return 2
    print(report(cal, args.far, FaceCheckConfig().match_threshold))
    return 0
