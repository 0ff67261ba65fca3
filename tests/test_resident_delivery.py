"""The resident's mobile number and pickup code from the kiosk to the back office, end to end: a
real back office process, the kiosk's delivery worker over HTTP. The back office holds the number
sealed and masked, queues the 受理 text message, and keeps the pickup code for the result-ready one;
the kiosk deletes its sealed copy once the back office acknowledged the case."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sync_support import Backoffice, Kiosk, deposit, kiosk_at, worker_for

from kiosk.sync.enrol import enrol
from locker.resident import ResidentStore


@pytest.fixture
def kiosk(tmp_path: Path, backoffice: Backoffice) -> Iterator[Kiosk]:
    code = backoffice.new_kiosk("qidu-phone")
    with kiosk_at(tmp_path, backoffice.url) as k:
        enrol(k.cfg, backoffice.url, code)
        yield k


def test_number_and_pickup_code_reach_the_back_office_and_leave_the_kiosk(kiosk: Kiosk,
                                                                          backoffice: Backoffice) -> None:
    code = deposit(kiosk)
    resident = ResidentStore(kiosk.store.db, kiosk.store.submissions.cipher)
    resident.save_contact(code, phone="13912345678", pickup_code="284615")
    assert worker_for(kiosk).run_once().acknowledged == [code]
    assert resident.contact(code) == (None, None)  # the kiosk's copy is gone once the back office holds it

    held = dict(backoffice.shell(
        "import json\n"
        "from backoffice.cases.models import Case\n"
        f"c = Case.objects.get(case_code='{code}')\n"
        "print(json.dumps({'masked': c.phone_masked, 'phone': c.phone(), 'pickup': c.secret.pickup_code(),"
        " 'sealed_has_number': b'13912345678' in bytes(c.phone_sealed),"
        " 'sms': [(m.kind, m.to_masked, '已受理' in m.body()) for m in c.sms.all()]}))"))
    assert held["masked"] == "139****5678" and held["phone"] == "13912345678" and not held["sealed_has_number"]
    assert held["pickup"] == "284615"
    assert held["sms"] == [["received", "139****5678", True]]
