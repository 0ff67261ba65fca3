"""The fleet messages of the contract: a round trip keeps every field, a bad field is named."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

import contract


def heartbeat(**over: object) -> dict:
    hb = contract.Heartbeat(
        kiosk_id="qidu-centre", sent_at=1.7e9, interval_s=30, software_version="0.2.0", disk_free_bytes=10**9,
        disk_total_bytes=4 * 10**9,
        devices=(contract.DeviceReport("printer", "offline", "paper out", 1.7e9 - 60),),
        compartments=contract.CompartmentCounts(10, 12, 2, 24, ("A03", "C01")),
        originals_waiting=3, oldest_original_at=1.7e9 - 7200, outbox_depth=1, oldest_undelivered_at=1.7e9 - 30,
        outbox_last_error=None, audit_seq=41, audit_hash="ab" * 32,
        audit_proofs=(contract.AuditProof(7, "cd" * 32), contract.AuditProof(9, None)),
        guide_version=2, guide_refused={"3": "services.toml: service x has no papers"}, staff_version=4,
    ).to_json()
    hb.update(over)
    return json.loads(json.dumps(hb))


def test_heartbeat_round_trip_keeps_every_field() -> None:
    hb = contract.Heartbeat.from_json(heartbeat())
    assert hb.devices[0].detail == "paper out"
    assert hb.compartments.out_of_order_ids == ("A03", "C01")
    assert hb.audit_proofs[1].hash is None
    assert hb.guide_refused == {"3": "services.toml: service x has no papers"}
    assert contract.Heartbeat.from_json(json.loads(contract.dumps(hb))) == hb


@pytest.mark.parametrize(("over", "named"), [
    ({"audit_hash": "xyz"}, "heartbeat.audit_hash"),
    ({"compartments": {"free": 30, "occupied": 0, "out_of_order": 0, "total": 24}}, "exceed total"),
    ({"devices": [{"name": "printer", "status": "online", "since": 1}]}, "heartbeat.devices[0].detail"),
    ({"contract": 99}, "contract version 99"),
    ({"interval_s": 0}, "heartbeat.interval_s"),
])
def test_a_bad_heartbeat_names_the_field(over: dict, named: str) -> None:
    with pytest.raises(contract.ContractError) as err:
        contract.Heartbeat.from_json(heartbeat(**over))
    assert named in err.value.message


def test_staff_snapshot_carries_only_digests_and_refuses_a_plain_pin() -> None:
    salt, digest = b"s" * 16, hashlib.scrypt(b"123456", salt=b"s" * 16, n=2**4, r=8, p=1, dklen=32)
    entry = {"badge_uid": "04A1B2C3", "name": "王芳", "pin_kdf": "scrypt:16:8:1",
             "pin_salt_b64": base64.b64encode(salt).decode(), "pin_digest_b64": base64.b64encode(digest).decode()}
    snap = contract.StaffAccountsSnapshot.from_json({"contract": 1, "kiosk_id": "qidu-centre", "version": 3,
                                                     "unchanged": False, "accounts": [entry]})
    assert snap.accounts[0].name == "王芳" and "04A1" not in repr(snap.accounts[0])
    with pytest.raises(contract.ContractError, match="pin_digest_b64"):
        bad = entry | {"pin_digest_b64": "123456"}
        contract.StaffAccountsSnapshot.from_json({"contract": 1, "kiosk_id": "qidu-centre", "version": 3,
                                                  "unchanged": False, "accounts": [bad]})


def test_guide_damaged_on_the_way_is_refused() -> None:
    text = "version = 1\n"
    good = contract.GuideVersion(2, text, hashlib.sha256(text.encode()).hexdigest()).to_json()
    assert contract.GuideVersion.from_json(good).services_toml == text
    with pytest.raises(contract.ContractError) as err:
        contract.GuideVersion.from_json(good | {"services_toml": text + "x"})
    assert err.value.code == "guide.checksum"


def test_results_and_placement_round_trip() -> None:
    one = contract.ResultToPlace("C3MRU76E", "居住证", "Residence permit", "欧*明", "approved", 1.7e9)
    r = contract.ResultsToPlace("qidu-centre", (one,))
    assert contract.ResultsToPlace.from_json(json.loads(contract.dumps(r))) == r
    p = contract.ResultPlaced("C3MRU76E", "B02", 1.7e9, "staff:04****C3")
    assert contract.ResultPlaced.from_json(p.to_json()) == p
    with pytest.raises(contract.ContractError, match="placed.case_code"):
        contract.ResultPlaced.from_json(p.to_json() | {"case_code": "nope"})
