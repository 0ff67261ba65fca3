"""The kiosk ↔ back-office contract: round trips, and refusals that name the field."""

from __future__ import annotations

import base64
import hashlib

import pytest

import contract as c


def _package(**over: object) -> dict:
    pdf = b"%PDF-1.4 test"
    pkg = c.CasePackage(
        case_code="C3MRU76E",
        kiosk_id="qidu-centre",
        service=c.Service("birth-cert", "出生医学证明", "Birth certificate", 5),
        identity=c.IdentityData("张三", "11010519491231002X", "男", "汉", "20301231"),
        card_photo_jpeg_b64=base64.b64encode(b"\xff\xd8jpeg").decode(),
        phone="13812345678",
        checks=c.Checks(c.FaceOutcome.MATCHED, 0.41, 12, "blink", True),
        papers=(c.Paper("id_copy", "身份证复印件", "ID copy", "scanned"),
                c.Paper("hukou", "户口簿", "Household register", "deferred")),
        files=(c.ScanFile("id_copy-1", "id_copy", 1, "application/pdf", len(pdf), hashlib.sha256(pdf).hexdigest()),),
        compartment_id="A01",
        receipt_printed=True,
        created_at=1_700_000_000.0,
        committed_at=1_700_000_300.0,
    ).to_json()
    pkg.update(over)
    return pkg


def test_package_round_trip_keeps_every_field_and_digest() -> None:
    data = _package()
    pkg = c.CasePackage.from_json(data)
    assert pkg.to_json() == data
    assert pkg.deferred_papers == ("hukou",)
    assert c.digest(pkg) == c.digest(c.CasePackage.from_json(pkg.to_json()))
    assert "张三" not in repr(pkg.identity)


@pytest.mark.parametrize(
    ("over", "code", "where"),
    [
        ({"contract": 99}, "contract.version_unsupported", "version 99"),
        ({"case_code": "c3mru76e"}, "contract.malformed", "case.case_code"),
        ({"phone": "12345"}, "contract.malformed", "case.phone"),
        ({"identity": {"name": "张三"}}, "contract.missing_field", "case.identity.id_number"),
        ({"papers": []}, "contract.malformed", "belongs to no paper"),
        ({"receipt_printed": "yes"}, "contract.malformed", "case.receipt_printed"),
    ],
)
def test_bad_packages_are_refused_naming_the_field(over: dict, code: str, where: str) -> None:
    with pytest.raises(c.ContractError) as err:
        c.CasePackage.from_json(_package(**over))
    assert err.value.code == code
    assert where in err.value.message


def test_oversized_and_broken_bodies_are_refused() -> None:
    with pytest.raises(c.ContractError) as err:
        c.parse_json_body(b"x" * (c.MAX_PACKAGE_BYTES + 1), limit=c.MAX_PACKAGE_BYTES, what="case")
    assert err.value.status == 413
    with pytest.raises(c.ContractError, match="not JSON"):
        c.parse_json_body(b"{", limit=100, what="case")


def test_content_range_round_trip_and_limits() -> None:
    assert c.parse_content_range(c.content_range(0, 1024, 3000)) == (0, 1024, 3000)
    with pytest.raises(c.ContractError):
        c.parse_content_range("bytes 0-3000/3000")
    with pytest.raises(c.ContractError):
        c.parse_content_range(c.content_range(0, c.MAX_CHUNK_BYTES + 1, 10 * c.MAX_CHUNK_BYTES))


def test_forged_credential_shapes_are_refused() -> None:
    assert c.split_credential("qidu-centre." + "a" * 43) == ("qidu-centre", "a" * 43)
    for token in ("", "qidu-centre", "QIDU." + "a" * 43, "qidu-centre.short"):
        with pytest.raises(c.ContractError):
            c.split_credential(token)


def test_events_validate_kind_and_ids() -> None:
    event = c.KioskEvent("e1", "C3MRU76E", "collected", 2.0, "staff:04A1…C3", "A01")
    batch = c.EventBatch("qidu-centre", 1.0, (event,))
    assert c.EventBatch.from_json(batch.to_json()) == batch
    bad = batch.to_json()
    bad["events"][0]["kind"] = "exploded"
    with pytest.raises(c.ContractError, match="unknown event"):
        c.EventBatch.from_json(bad)
