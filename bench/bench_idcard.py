"""ID card reader: driver time for a full read vs the bytes' own wire time at 115200 baud.

Subject: ``IdCardReader`` doing find + select + read (text + photo) against the simulator with
pacing on, over a real pty. Baseline: ``wire_seconds`` of every request and answer byte of that
exchange, i.e. what the serial line alone costs. The ratio is the driver's (and the pty's)
overhead; the target is ≤ 1.1×.
"""

from __future__ import annotations

import statistics
import time

from devices.idcard.driver import IdCardReader
from devices.idcard.protocol import (
    CardData,
    Command,
    Response,
    Sw3,
    card_data_payload,
    request,
)
from devices.idcard.simulator import IdCardSimulator
from devices.idcard.wlt import SimulatorPhotoDecoder
from devices.wire_time import wire_seconds

BAUD = 115200
RUNS = 7


def exchange_bytes() -> int:
    """Bytes on the wire for find + select + read, both directions."""
    requests = sum(len(request(c).encode()) for c in (Command.FIND, Command.SELECT, Command.READ_TEXT_PHOTO))
    answers = (
        len(Response(Sw3.CARD_FOUND, bytes(4)).encode())
        + len(Response(Sw3.OK, bytes(8)).encode())
        + len(Response(Sw3.OK, card_data_payload(CardData(bytes(256), bytes(1024)), with_fingerprint=False)).encode())
    )
    return requests + answers


def measure(runs: int = RUNS) -> tuple[float, float, list[float]]:
    """(median driver seconds, wire seconds, all driver timings)."""
    times: list[float] = []
    with IdCardSimulator(baudrate=BAUD, pacing=True) as sim:
        reader = IdCardReader(sim.port, BAUD, wlt_decoder=SimulatorPhotoDecoder())
        reader.open()
        try:
            reader.probe()  # warm up port and code paths
            for _ in range(runs + 1):
                sim.ctl_remove()
                reader.find_card()  # the reader sees the field empty, as between two residents
                sim.ctl_insert(card="zhang_san")
                start = time.perf_counter()
                reader.read_card()
                times.append(time.perf_counter() - start)
        finally:
            reader.close()
    times = times[1:]  # first read also encodes the simulator's photo
    return statistics.median(times), wire_seconds(exchange_bytes(), BAUD), times


def section() -> str:
    driver, wire, times = measure()
    ratio = driver / wire
    verdict = "meets" if ratio <= 1.1 else "misses"
    return (
        "## ID card reader (SAM, serial)\n\n"
        f"Full read (find + select + read text+photo, {exchange_bytes()} bytes on the wire) at {BAUD} baud, "
        f"simulator with pacing on over a pty, median of {len(times)} runs.\n\n"
        "| measure | seconds | ratio |\n|---|---|---|\n"
        f"| baseline: wire time of all request + answer bytes | {wire:.4f} | 1.00× |\n"
        f"| driver `read_card()` | {driver:.4f} | {ratio:.2f}× |\n\n"
        f"Runs: {', '.join(f'{t:.4f}' for t in times)}. Target ≤ 1.1×: {verdict}.\n"
    )


if __name__ == "__main__":
    print(section())
