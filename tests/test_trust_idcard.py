"""Issue 12, card text: a bad GB 11643 check digit, an empty ID number or control characters are
refused on screen before anything is stored; the card's address and birth date are not kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from flow_support import Rig, deposit_to_receipt, press, wait_until

from devices.idcard.records import IdCardInvalid, decode_text, record_from_dict
from devices.idcard.sample_cards import ZHANG_SAN

CARD = {
    "name": "赵六",
    "sex": "2",
    "nation_code": "03",
    "birth_date": "19700203",
    "address": "天津市和平区",
    "issuer": "天津市公安局",
    "valid_from": "20200101",
    "valid_to": "长期",
    "photo": str(Path(__file__).parent / "data" / "faces" / "biden_1.jpg"),
}


@pytest.mark.parametrize(("what", "changes"), [
    ("bad check digit", {"id_number": "110105197002030000"}),
    ("empty ID number", {"id_number": ""}),
    ("newline in the name", {"id_number": "110105197002030006", "name": "赵六\nERROR forged"}),
    ("bidi control in the address", {"id_number": "110105197002030006", "address": "天津\u202e市"}),
])
def test_a_forged_or_damaged_card_is_refused_at_the_reader(rig: Rig, what: str, changes: dict[str, str]) -> None:
    with pytest.raises(IdCardInvalid):
        decode_text(record_from_dict({k: v for k, v in {**CARD, **changes}.items() if k != "photo"}).encode())
    flow = rig.deposit()
    press(flow, "start")
    rig.idsim.ctl_insert(card={**CARD, **changes})
    wait_until(lambda: flow.view.message == "idcard.invalid_card", 15, f"{what} refused")
    assert flow.state == "card"  # still asking for a (real) card; nothing stored
    assert rig.store.db.query_one("SELECT COUNT(*) AS n FROM cases")["n"] == 0


def test_a_valid_card_deposits_without_keeping_address_or_birth_date(rig: Rig) -> None:
    flow = rig.deposit()
    deposit_to_receipt(rig, flow)
    code = flow.view.params["case_code"]
    identity = rig.store.submissions.identity(code)
    assert identity.id_number == ZHANG_SAN.id_number
    assert "address" not in identity.extra and "birth_date" not in identity.extra
    assert identity.extra.get("valid_to") == str(ZHANG_SAN.valid_to)
