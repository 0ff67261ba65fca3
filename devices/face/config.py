"""Tunable values of the face check, validated once when the session is built.

How the default distance threshold was chosen
---------------------------------------------
``match_threshold = 0.6`` is face_recognition's own tolerance: dlib's ResNet encoder was trained so
that two photos of one person are closer than 0.6 (Euclidean), which gives 99.38 % on LFW. ID-card
photos argue for a *looser* value (102 × 126 pixels, up to 10-20 years old, JPEG-like WLT
compression, flat lighting), and the model's known weakness on East-Asian faces (more look-alikes
under 0.6, see the face_recognition README/issues about lowering the tolerance for similar-looking
people) argues for a *tighter* one. We keep 0.6 and do not loosen it because a false accept hands
someone else's documents over, while a false reject only sends the resident to staff; the
multi-frame vote (``votes_needed`` of the last ``vote_window`` encodings under the threshold)
already absorbs single noisy frames of a genuine resident, so the per-frame threshold need not
carry that slack. The six test photos were *not* used to choose it (they only show that genuine
pairs land far below and impostor pairs far above it). It must be recalibrated on field data:
genuine card/camera pairs and impostor pairs from the target population, picking the threshold
for the false-accept rate the service centre accepts.

The quality and liveness thresholds are first estimates from the literature (eye aspect ratio:
Soukupová & Čech 2016, open ≈ 0.3, closed < 0.2, hence a 30 % drop) and from the 640 × 480 face
camera geometry; they are not field-calibrated either.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from devices.errors import ConfigError


@dataclass(frozen=True)
class FaceCheckConfig:
    # identity
    match_threshold: float = 0.6  # per-frame Euclidean distance; see the module docstring
    vote_window: int = 5  # the last N encodings that vote
    votes_needed: int = 3  # how many of them must be under the threshold
    mismatch_reject: int = 6  # this many encodings in a row over the threshold: reject early
    timeout_s: float = 12.0  # give up when no decision this long after the first frame ...
    timeout_frames: int = 40  # ... and at least this many frames were judged (a starved worker
    # judges few frames in 12 s: the try must not end before the resident had a fair look)
    max_timeout_s: float = 45.0  # give up after this long whatever the frame count
    recheck_every: int = 8  # after a match, re-encode every N good frames (is it still them?)
    # speed
    detect_width: int = 320  # frames are downscaled to this width for detection
    detect_upsample: int = 1  # dlib HOG upsampling on the downscaled frame (finds faces ≥ 40 px there)
    redetect_every: int = 6  # re-run the detector after this many tracked frames
    max_track_shift: float = 0.12  # landmark centre moved more than this × face width: re-detect now
    # quality gate
    min_face_fraction: float = 0.15  # face width / frame width below this: "come closer" (keeps watching)
    max_face_fraction: float = 0.8  # above this: "move back"
    max_offcentre: float = 0.25  # face centre farther than this × frame size from the centre
    min_brightness: float = 50.0  # mean grey level (0-255) inside the face box
    max_brightness: float = 215.0
    min_sharpness: float = 30.0  # variance of the Laplacian on the face scaled to 128 px wide
    # liveness
    blink_drop: float = 0.3  # closed-eye EAR is at least this fraction below the open-eye EAR
    eye_open_drop: float = 0.3  # 5-point eye openness (gradient ratio) this fraction below open: shut
    landmarks68: bool = False  # compare only: follow/blink with dlib's 68 points (iBUG 300-W, non-commercial)
    min_open_frames: int = 2  # open-eye frames before a blink counts (to know the open EAR)
    min_motion: float = 0.01  # non-eye landmarks must move this × inter-ocular distance in total
    require_head_turn: bool = False  # also ask for a head turn (either side)
    min_yaw_change: float = 0.25  # nose offset change, in half jaw-widths, that counts as a turn
    max_gap_s: float = 1.0  # face out of view longer than this: evidence starts again

    def __post_init__(self) -> None:
        problems = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                continue
            if not isinstance(value, int | float) or value < 0:
                problems.append(f"face.{f.name}: {value!r} must be a number ≥ 0")
        if not problems:
            if not 0 < self.match_threshold < 2:
                problems.append(f"face.match_threshold: {self.match_threshold} must be in (0, 2)")
            if not 1 <= self.votes_needed <= self.vote_window:
                problems.append(
                    f"face.votes_needed: {self.votes_needed} must be between 1 and vote_window ({self.vote_window})"
                )
            for name in ("mismatch_reject", "recheck_every", "redetect_every", "detect_width"):
                if getattr(self, name) < 1:
                    problems.append(f"face.{name}: must be ≥ 1")
            if self.detect_width < 80:
                problems.append(f"face.detect_width: {self.detect_width} is too small (≥ 80)")
            if not self.min_face_fraction < self.max_face_fraction:
                problems.append("face.min_face_fraction must be below face.max_face_fraction")
            if not self.min_brightness < self.max_brightness:
                problems.append("face.min_brightness must be below face.max_brightness")
            if not 0 < self.eye_open_drop < 1:
                problems.append(f"face.eye_open_drop: {self.eye_open_drop} must be in (0, 1)")
            if not 0 < self.blink_drop < 1:
                problems.append(f"face.blink_drop: {self.blink_drop} must be in (0, 1)")
            if self.timeout_s <= 0:
                problems.append("face.timeout_s: must be > 0")
            if self.max_timeout_s < self.timeout_s:
                problems.append(f"face.max_timeout_s: {self.max_timeout_s} must be ≥ timeout_s ({self.timeout_s})")
        if problems:
            raise ConfigError("; ".join(problems), device="face")
