"""The contract's additions for the resident after the kiosk: the pickup code travels with the case
(validated, never in a repr), and a package without it reads and digests exactly as before."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import contract


def _pkg(**over: object) -> contract.CasePackage:
    pkg = contract.CasePackage(
        case_code="C3MRU76E", kiosk_id="qidu-centre", service=contract.Service("birth-cert", "出生", "Birth", 5),
        identity=contract.IdentityData("欧阳小明", "320584199001011234"), card_photo_jpeg_b64=None,
        phone="13912345678", checks=contract.Checks("matched", 0.4, 9, "blink", True), papers=(), files=(),
        compartment_id="A03", receipt_printed=True, created_at=1.0, committed_at=2.0)
    return dataclasses.replace(pkg, **over)  # type: ignore[arg-type]


def test_pickup_code_round_trips_and_stays_out_of_reprs() -> None:
    pkg = _pkg(pickup_code="284615")
    back = contract.CasePackage.from_json(json.loads(contract.dumps(pkg)))
    assert back.pickup_code == "284615" and back == pkg
    assert "284615" not in repr(pkg) and "13912345678" in json.dumps(pkg.to_json())


def test_a_package_without_pickup_code_digests_as_before() -> None:
    pkg = _pkg()
    assert "pickup_code" not in pkg.to_json()
    assert contract.digest(contract.CasePackage.from_json(pkg.to_json())) == contract.digest(pkg)


@pytest.mark.parametrize("bad", ["28461", "2846150", "abcdef", 284615])
def test_a_malformed_pickup_code_is_refused_naming_the_field(bad: object) -> None:
    data = _pkg().to_json() | {"pickup_code": bad}
    with pytest.raises(contract.ContractError, match="case.pickup_code"):
        contract.CasePackage.from_json(data)


def test_the_receipt_qr_code_opens_the_progress_page(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    import cv2
    import numpy as np

    from flows.receipt import Receipt, parse_qr_payload, qr_png, view_params
    from kiosk.config import load_config

    r = Receipt("K7QF2M9X", "284615", "出生", "Birth", "A03", 5, "七都中心", dt.datetime(2026, 12, 6, 10, 0),
                track_base_url="https://banshi.qidu.example/")
    params = view_params(r)
    assert params["qr_payload"] == "https://banshi.qidu.example/track/K7QF2M9X"
    # What a phone's camera reads off the screen's QR code (decoded by OpenCV, not by us).
    image = cv2.imdecode(np.frombuffer(qr_png(r.qr_payload), np.uint8), cv2.IMREAD_GRAYSCALE)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert text == "https://banshi.qidu.example/track/K7QF2M9X" and "284615" not in text
    assert parse_qr_payload(text) == "K7QF2M9X" and parse_qr_payload("KIOSK-CASE:K7QF2M9X") == "K7QF2M9X"
    assert parse_qr_payload("https://evil.example/other/K7QF2M9X") is None
    bare = Receipt("K7QF2M9X", "284615", "出生", "Birth", "A03", 5, "七都中心", dt.datetime(2026, 12, 6))
    assert bare.qr_payload == "KIOSK-CASE:K7QF2M9X"  # no back office: staff scanners' form

    src = Path("config/kiosk.sim.toml").read_text(encoding="utf-8")
    cfg_path = tmp_path / "kiosk.toml"
    cfg_path.write_text(src.replace("[backoffice]", "[backoffice]\npublic_url = \"https://banshi.qidu.example\"", 1),
                        encoding="utf-8")
    cfg = load_config(cfg_path)
    assert cfg.backoffice.track_base_url == "https://banshi.qidu.example"
    cfg_path.write_text(src.replace("[backoffice]", "[backoffice]\npublic_url = \"banshi.qidu\"", 1), encoding="utf-8")
    with pytest.raises(Exception, match="public_url"):
        load_config(cfg_path)


def test_a_rating_round_trips_and_bad_ones_are_refused_by_field() -> None:
    bad = contract.Rating("visit-1", "C3MRU76E", "deposit", "very_dissatisfied", ("waiting", "device_failed"),
                          "排队太久", 1.7e9)
    batch = contract.RatingBatch("qidu-centre", (bad,))
    back = contract.RatingBatch.from_json(json.loads(contract.dumps(batch)))
    assert back == batch and back.ratings[0].is_bad
    good = bad.to_json() | {"level": "satisfied", "reasons": []}
    assert not contract.Rating.from_json(good).is_bad
    for change, field in ((("level", "great"), "level"), (("reasons", ["waiting"]), "reasons"),
                          (("occasion", "phone"), "occasion"), (("note", "x" * 201), "note")):
        data = (good if field == "reasons" else bad.to_json()) | {change[0]: change[1]}
        with pytest.raises(contract.ContractError, match=f"rating.{field}"):
            contract.Rating.from_json(data)
    with pytest.raises(contract.ContractError, match="reasons"):
        contract.Rating.from_json(bad.to_json() | {"reasons": ["waiting", "waiting"]})
