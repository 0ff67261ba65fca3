"""How long bytes take on a serial wire, shared by simulator pacing and the benchmarks."""

from __future__ import annotations

# 8N1: one start bit, eight data bits, one stop bit.
BITS_PER_BYTE = 10


def wire_seconds(nbytes: int, baudrate: int) -> float:
    """Seconds ``nbytes`` take to cross a UART at ``baudrate`` with 8N1 framing."""
    return nbytes * BITS_PER_BYTE / baudrate
