"""LCUS-type USB relay modules (CH340 serial, 9600 8N1): pure codec.

Switch command, 4 bytes, no answer: ``A0 | channel (1..8) | 00 off / 01 on | A0+channel+op``
(``A0 01 01 A2`` on, ``A0 01 00 A1`` off). Status query: the single byte ``FF``; the module answers
ASCII lines ``"CH1: ON \\r\\n"`` / ``"CH1: OFF\\r\\n"`` (padded to the same width), one per channel.
Sources: LC Technology LCUS-4 documentation as quoted by Brian Rzycki's LCUS driver; the switch
bytes also in jarwyg/USB_RELAY, exmakhina relay_lcus.py and MultiRoomAudio's LcusRelayBoard.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from devices.relay.errors import RelayChecksumError, RelayConfigError, RelayFrameError

START = 0xA0
STATUS_QUERY = b"\xff"
MAX_CHANNELS = 8
_LINE = re.compile(rb"CH([1-8]): (ON |OFF)\r\n")


@dataclass(frozen=True)
class SwitchCommand:
    channel: int
    on: bool


def encode_switch(channel: int, on: bool) -> bytes:
    if not 1 <= channel <= MAX_CHANNELS:
        raise RelayConfigError(f"relay channel {channel} is outside 1..{MAX_CHANNELS}")
    op = 1 if on else 0
    return bytes([START, channel, op, (START + channel + op) & 0xFF])


def parse_switch(frame: bytes) -> SwitchCommand:
    """Module side: one 4-byte switch command."""
    if len(frame) != 4 or frame[0] != START:
        raise RelayFrameError(f"not an LCUS switch command: {frame.hex(' ')}")
    channel, op, check = frame[1], frame[2], frame[3]
    if (START + channel + op) & 0xFF != check:
        raise RelayChecksumError(f"LCUS check byte {check:02x} wrong in {frame.hex(' ')}")
    if not 1 <= channel <= MAX_CHANNELS or op not in (0, 1):
        raise RelayFrameError(f"LCUS command for channel {channel}, operation {op}")
    return SwitchCommand(channel, op == 1)


def status_answer_length(channels: int) -> int:
    """Every status line is the same width ("ON " is padded), so the answer length is fixed."""
    return 10 * channels


def encode_status_answer(states: Sequence[bool]) -> bytes:
    return b"".join(f"CH{i}: {'ON ' if on else 'OFF'}\r\n".encode() for i, on in enumerate(states, 1))


def parse_status_answer(data: bytes) -> dict[int, bool]:
    """Host side: the ASCII status answer → {channel: on}."""
    states: dict[int, bool] = {}
    pos = 0
    while pos < len(data):
        m = _LINE.match(data, pos)
        if m is None:
            raise RelayFrameError(f"not an LCUS status answer at byte {pos}: {data[pos:pos + 12]!r}")
        states[int(m.group(1))] = m.group(2) == b"ON "
        pos = m.end()
    if not states:
        raise RelayFrameError("empty LCUS status answer")
    return states
