"""The contract's additions for the resident after the kiosk: the pickup code travels with the case
(validated, never in a repr), and a package without it reads and digests exactly as before."""

from __future__ import annotations

import dataclasses
import json

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
