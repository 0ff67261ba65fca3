"""Fingerprint template transfer: the driver's time against the bytes' pure wire time.

With pacing on, the simulator makes every byte take its 8N1 wire time at 57600 baud in both
directions, so the ratio shows what the driver adds on top of the wire (framing, reads, polling).
UpChar: command, ack and 512 bytes of data packets back. DownChar: command, ack, 512 bytes of
data packets out, then a Handshake whose answer proves the sensor consumed them.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from devices.fingerprint import FingerprintSensor, FingerprintSimulator, SysParam
from devices.fingerprint.protocol import (
    HEADER_LEN,
    PACKET_SIZES,
    TEMPLATE_SIZE,
    split_data,
)
from devices.wire_time import wire_seconds

BAUD = 57600
RUNS = 7
SIZES = (32, 128, 256)
_FRAME = HEADER_LEN + 2  # header and checksum around every payload


def _data_bytes(packet_size: int) -> int:
    return sum(_FRAME + len(chunk) for _, chunk in split_data(bytes(TEMPLATE_SIZE), packet_size))


def up_char_wire_bytes(packet_size: int) -> int:
    command = _FRAME + 2  # instruction, buffer
    ack = _FRAME + 1
    return command + ack + _data_bytes(packet_size)


def down_char_wire_bytes(packet_size: int) -> int:
    handshake = (_FRAME + 1) + (_FRAME + 1)
    return (_FRAME + 2) + (_FRAME + 1) + _data_bytes(packet_size) + handshake


def _median_seconds(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure() -> list[tuple[int, str, float, float]]:
    """Rows of (packet size, operation, driver seconds, wire seconds)."""
    rows = []
    with FingerprintSimulator(baudrate=BAUD, pacing=True) as sim:
        sim.ctl_store(finger="bench", page=0)
        sensor = FingerprintSensor(sim.port, BAUD, timeout=5.0)
        sensor.open()
        try:
            sensor.load_char(1, 0)
            template = sensor.up_char(1)
            for size in SIZES:
                sensor.set_sys_para(SysParam.PACKET_SIZE, PACKET_SIZES.index(size))

                def down(size: int = size) -> None:
                    sensor.down_char(2, template)
                    sensor.handshake()

                up = _median_seconds(lambda: sensor.up_char(1))
                rows.append((size, "UpChar", up, wire_seconds(up_char_wire_bytes(size), BAUD)))
                dn = _median_seconds(down)
                rows.append((size, "DownChar + Handshake", dn, wire_seconds(down_char_wire_bytes(size), BAUD)))
            assert sensor.up_char(2) == template
        finally:
            sensor.close()
    return rows


def section() -> str:
    rows = measure()
    lines = [
        "## Fingerprint sensor: template transfer at 57600 baud (pacing on)\n",
        "Subject: `FingerprintSensor` against `FingerprintSimulator` over a pty. Baseline: the pure "
        f"8N1 wire time of the same bytes. Median of {RUNS} runs. Target: ratio <= 1.1x.\n",
        "| packet size | operation | driver ms | wire ms | ratio |",
        "|---:|---|---:|---:|---:|",
    ]
    for size, op, driver, wire in rows:
        lines.append(f"| {size} | {op} | {driver * 1000:.1f} | {wire * 1000:.1f} | {driver / wire:.2f}x |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(section())
