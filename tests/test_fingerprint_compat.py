"""Unchanged open-source host code (pyfingerprint) against the simulator: byte compatibility.

pyfingerprint frames every command itself, byte by byte, and reads answers by their LEN field, so
it checks the simulator's framing, checksums, answer layouts and data packets independently of
this project's codec. (Its "download"/"upload" names are swapped against the datasheet's.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyfingerprint.pyfingerprint import PyFingerprint

from devices.fingerprint import FingerprintSensor, FingerprintSimulator


@pytest.fixture
def sim() -> Iterator[FingerprintSimulator]:
    with FingerprintSimulator(pacing=False, password=0x1234, packet_size=64) as s:
        yield s  # type: ignore[misc]


def host(sim: FingerprintSimulator, password: int = 0x1234) -> PyFingerprint:
    return PyFingerprint(sim.port, 57600, 0xFFFFFFFF, password)


def test_pyfingerprint_password_and_system_parameters(sim: FingerprintSimulator) -> None:
    assert host(sim, password=0x9999).verifyPassword() is False
    f = host(sim)
    assert f.verifyPassword() is True
    status, system_id, capacity, level, address, size_code, baud_n = f.getSystemParameters()
    assert (capacity, level, address, size_code, baud_n) == (300, 3, 0xFFFFFFFF, 1, 6)
    assert f.getMaxPacketSize() == 64 and f.getBaudRate() == 57600
    f.setMaxPacketSize(256)
    assert f.getMaxPacketSize() == 256


def test_pyfingerprint_enrol_search_and_template_transfer(sim: FingerprintSimulator) -> None:
    f = host(sim)
    assert f.verifyPassword()
    assert f.readImage() is False  # no finger yet
    sim.ctl_place(finger="carol")
    assert f.readImage() is True
    f.convertImage(0x01)
    assert f.readImage() is True
    f.convertImage(0x02)
    assert f.compareCharacteristics() > 50
    f.createTemplate()
    position = f.storeTemplate()  # finds the first free page through the index table
    assert position == 0 and f.getTemplateCount() == 1
    assert f.getTemplateIndex(0)[:2] == [True, False]

    template = f.downloadCharacteristics(0x01)  # sensor -> host (datasheet UpChar)
    assert len(template) == 512
    assert f.uploadCharacteristics(0x02, template) is True  # host -> sensor, read back

    f.readImage()
    f.convertImage(0x01)
    page, score = f.searchTemplate()
    assert page == 0 and score > 50
    sim.ctl_place(finger="dave")
    f.readImage()
    f.convertImage(0x01)
    assert f.searchTemplate() == (-1, -1)

    # What pyfingerprint enrolled, this project's driver finds, and the other way round.
    sim.ctl_place(finger="carol")
    sensor = FingerprintSensor(sim.port, password=0x1234, timeout=1.0, poll_interval=0.01)
    sensor.open()
    found = sensor.identify(timeout=2)
    assert found is not None and found[0] == 0
    sensor.close()
    assert f.deleteTemplate(0) and f.getTemplateCount() == 0
