"""Synthetic fingers for the simulator: stable identities, noisy captures, a matcher with a score.

A real sensor never yields the same template twice for one finger, and the kiosk must work with
that: enrolment combines two captures, verification compares a fresh capture with a stored
template by score against a threshold. Here a finger's name seeds a fixed 512-byte "feature"
pattern; each capture replaces a few percent of its bytes with capture-specific noise. Two captures
of one finger share most bytes (high score), two fingers share almost none (score near zero).
"""

from __future__ import annotations

import hashlib

from devices.fingerprint.protocol import TEMPLATE_SIZE

NOISE_PERCENT = 8  # bytes of a capture that differ from the finger's pattern
MAX_SCORE = 200  # score of two identical templates

# Score a pair must reach to count as the same finger, per security level (1 lenient .. 5 strict).
THRESHOLDS = {1: 30, 2: 40, 3: 50, 4: 65, 5: 80}


def _stream(seed: bytes, size: int) -> bytes:
    out = bytearray()
    block = 0
    while len(out) < size:
        out += hashlib.sha256(seed + block.to_bytes(4, "big")).digest()
        block += 1
    return bytes(out[:size])


def finger_pattern(name: str) -> bytes:
    """The noise-free 512 bytes of a finger: what every capture of it is close to."""
    return _stream(b"finger:" + name.encode(), TEMPLATE_SIZE)


def capture_template(name: str, capture: int) -> bytes:
    """The template of the ``capture``-th capture of a finger: its pattern with a few bytes noisy."""
    template = bytearray(finger_pattern(name))
    noise = _stream(f"capture:{name}:{capture}".encode(), TEMPLATE_SIZE * 3)
    count = TEMPLATE_SIZE * NOISE_PERCENT // 100
    for i in range(count):
        pos = int.from_bytes(noise[3 * i : 3 * i + 2], "big") % TEMPLATE_SIZE
        template[pos] = noise[3 * i + 2]
    return bytes(template)


def match_score(a: bytes, b: bytes) -> int:
    """0..MAX_SCORE: the share of equal bytes over a template's length."""
    if not a or not b:
        return 0
    same = sum(x == y for x, y in zip(a[:TEMPLATE_SIZE], b[:TEMPLATE_SIZE], strict=False))
    return same * MAX_SCORE // TEMPLATE_SIZE


def threshold(security_level: int) -> int:
    return THRESHOLDS.get(security_level, THRESHOLDS[3])
