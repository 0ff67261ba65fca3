"""The kiosk API as a kiosk meets it, on PostgreSQL: enrolment, credentials, idempotent delivery,
resumable uploads, events, clock correction, and clear refusals of bad input."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time

import pytest
from backoffice_support import (
    PASSWORD,
    RESIDENT_ID,
    RESIDENT_NAME,
    RESIDENT_PHONE,
    Town,
    deliver,
    kiosk_headers,
    make_pdf,
    package,
)
from django.db import connection
from django.utils import timezone

import contract
from backoffice.cases.blobs import read_blob
from backoffice.cases.models import Case, CaseHistory, KioskEventRecord, StoredBlob, UploadChunk
from backoffice.kiosks import actions as kiosk_actions
from backoffice.kiosks.models import AuthRefusal


def _put(client, token, pkg, **kw):  # type: ignore[no-untyped-def]
    return client.put(f"/api/v1/cases/{pkg['case_code']}", json.dumps(pkg) if isinstance(pkg, dict) else pkg,
                      content_type="application/json", **kiosk_headers(token, **kw))


def _error(resp) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    body = contract.ErrorBody.from_json(resp.json())
    return body.code, body.message


def test_enrol_code_works_once_and_its_credential_is_accepted(client, town: Town) -> None:
    from backoffice.kiosks.actions import create_kiosk

    kiosk, code = create_kiosk(kiosk_id="qidu-lugang", name="陆港村", town=town.town, village="陆港村")
    body = json.dumps(contract.EnrolRequest(code.lower().replace("-", " "), "1.0").to_json())
    r = client.post("/api/v1/enrol", body, content_type="application/json")
    assert r.status_code == 201
    answer = contract.EnrolResponse.from_json(r.json())
    assert answer.kiosk_id == "qidu-lugang" and answer.town == "七都"
    # The secret is not stored, only its hash.
    kiosk.refresh_from_db()
    assert answer.credential.split(".", 1)[1] not in kiosk.credential_hash
    again = client.post("/api/v1/enrol", body, content_type="application/json")
    assert again.status_code == 401 and _error(again)[0] == "kiosk.enrol_code_invalid"
    r = client.post("/api/v1/events", json.dumps(contract.EventBatch("qidu-lugang", time.time(), ()).to_json()),
                    content_type="application/json", **kiosk_headers(answer.credential))
    assert r.status_code == 200


def test_revoked_and_forged_credentials_are_refused_and_logged(client, town: Town, caplog) -> None:
    pkg = package()
    caplog.set_level(logging.WARNING, logger="backoffice")
    forged = "qidu-centre." + "x" * 43
    r = _put(client, forged, pkg)
    assert r.status_code == 401 and _error(r)[0] == "kiosk.credential_invalid"
    r = client.put("/api/v1/cases/C3MRU76E", json.dumps(pkg), content_type="application/json")
    assert r.status_code == 401 and _error(r)[0] == "kiosk.credential_missing"
    kiosk_actions.revoke(town.kiosk)
    r = _put(client, town.token, pkg)
    assert r.status_code == 401
    code, message = _error(r)
    assert code == "kiosk.revoked" and "revoked" in message
    assert Case.objects.count() == 0
    refused = list(AuthRefusal.objects.order_by("at").values_list("code", "claimed_id"))
    assert refused == [("kiosk.credential_invalid", "qidu-centre"), ("kiosk.credential_missing", ""),
                       ("kiosk.revoked", "qidu-centre")]
    assert "kiosk.revoked" in caplog.text and "kiosk.credential_invalid" in caplog.text
    assert "x" * 43 not in caplog.text  # the forged secret itself is not logged


def test_a_new_enrol_code_does_not_revive_a_revoked_credential(client, town: Town) -> None:
    """Revoked (say, a stolen disk): the old credential stays refused until the new code is used."""
    pkg = package()
    kiosk_actions.revoke(town.kiosk)
    code = kiosk_actions.issue_enrol_code(town.kiosk)
    r = _put(client, town.token, pkg)
    assert r.status_code == 401 and _error(r)[0] == "kiosk.revoked"
    body = json.dumps(contract.EnrolRequest(code=code, software_version="0.2.0").to_json())
    answer = contract.EnrolResponse.from_json(
        json.loads(client.post("/api/v1/enrol", body, content_type="application/json").content))
    assert _put(client, answer.credential, pkg).status_code in (200, 201)  # the new credential works
    r = _put(client, town.token, pkg)  # the old one never again
    assert r.status_code == 401 and _error(r)[0] == "kiosk.credential_invalid"


def test_same_delivery_twice_changes_nothing(client, town: Town) -> None:
    files = {"id_copy-1": make_pdf(2)}
    pkg = package(files=files)
    first = deliver(client, town.token, pkg, files)
    assert first.status_code == 201 and first.json()["created"] is True
    second = deliver(client, town.token, pkg, files)
    assert second.status_code == 200
    receipt = contract.CaseReceipt.from_json(second.json())
    assert receipt.created is False and receipt.complete
    assert Case.objects.count() == 1 and StoredBlob.objects.count() == 1
    assert CaseHistory.objects.filter(action="received").count() == 1
    # A different package under the same code is refused, and the held one kept.
    other = package(files=files, compartment_id="B07")
    r = _put(client, town.token, other)
    assert r.status_code == 409 and _error(r)[0] == "case.conflict"
    assert Case.objects.get().compartment_id == "A03"


def test_upload_cut_mid_file_resumes_without_duplicate(client, town: Town) -> None:
    data = make_pdf(3) * 1  # a real PDF
    data = data + b"\n%" + b"0" * (2 * contract.MAX_CHUNK_BYTES)  # padded past two chunks, still a valid PDF
    files = {"id_copy-1": data}
    pkg = package(files=files)
    r = _put(client, town.token, pkg)
    assert r.json()["missing_files"] == ["id_copy-1"]
    url = "/api/v1/cases/C3MRU76E/files/id_copy-1"
    size, c = len(data), contract.MAX_CHUNK_BYTES

    def chunk(start: int, end: int):  # type: ignore[no-untyped-def]
        return client.put(url, data[start:end], content_type="application/octet-stream",
                          HTTP_CONTENT_RANGE=contract.content_range(start, end, size), **kiosk_headers(town.token))

    assert chunk(0, c).json()["received"] == c
    # The kiosk lost the answer and asks where to go on: the status says what is held.
    st = contract.UploadStatus.from_json(client.get(url, **kiosk_headers(town.token)).json())
    assert (st.received, st.complete) == (c, False)
    # A resend of bytes already held (overlapping the end) appends only the new part.
    assert chunk(c // 2, c + c // 2).json()["received"] == c + c // 2
    gap = chunk(size - 10, size)
    assert gap.status_code == 416 and gap.json()["received"] == c + c // 2
    assert _error(gap)[0] == "upload.gap"
    for start in range(c + c // 2, size, c):
        last = chunk(start, min(size, start + c))
    assert last.json() == {"file_id": "id_copy-1", "received": size, "size": size, "complete": True}
    assert chunk(0, c).json()["complete"] is True  # a late resend after completion changes nothing
    blob = StoredBlob.objects.get()
    assert read_blob(blob.name) == data and UploadChunk.objects.count() == 0
    assert data[:64] not in bytes(blob.data)  # encrypted at rest: a database dump shows no scan
    assert contract.CaseReceipt.from_json(_put(client, town.token, pkg).json()).complete


def test_corrupted_upload_is_discarded_and_can_be_sent_again(client, town: Town) -> None:
    data = make_pdf(1)
    pkg = package(files={"id_copy-1": data})
    _put(client, town.token, pkg)
    bad = bytes([data[0] ^ 1]) + data[1:]
    r = client.put("/api/v1/cases/C3MRU76E/files/id_copy-1", bad, content_type="application/octet-stream",
                   HTTP_CONTENT_RANGE=contract.content_range(0, len(bad), len(bad)), **kiosk_headers(town.token))
    assert r.status_code == 422 and _error(r)[0] == "file.checksum"
    st = client.get("/api/v1/cases/C3MRU76E/files/id_copy-1", **kiosk_headers(town.token)).json()
    assert st["received"] == 0 and not st["complete"]
    deliver(client, town.token, pkg, {"id_copy-1": data})
    assert Case.objects.get().files.get().complete


def test_kiosk_clock_wrong_by_hours_is_corrected(client, town: Town) -> None:
    real_commit = time.time() - 600  # committed ten minutes ago
    skew = -5 * 3600  # the kiosk's clock is five hours behind
    pkg = package(committed_at=real_commit + skew)
    deliver(client, town.token, pkg, skew_s=skew)
    case = Case.objects.get()
    assert abs(case.deposited_at.timestamp() - real_commit) < 60
    assert abs(case.clock_skew_s - 5 * 3600) < 60
    assert "kiosk clock off by +5.0 h" in case.history.get(action="received").note
    batch = contract.EventBatch("qidu-centre", time.time() + skew, (
        contract.KioskEvent("ev-1", "C3MRU76E", "collected", time.time() + skew - 60, "staff:04A1…C3", "A03"),))
    client.post("/api/v1/events", json.dumps(batch.to_json()), content_type="application/json",
                **kiosk_headers(town.token, skew_s=skew))
    case.refresh_from_db()
    assert abs(case.collected_at.timestamp() - (time.time() - 60)) < 60
    # The due date counts from the real day, not the kiosk's wrong one.
    assert case.due_date >= timezone.localdate()
    r = client.put("/api/v1/cases/C3MRU76F", json.dumps(package("C3MRU76F")), content_type="application/json",
                   HTTP_AUTHORIZATION=f"Bearer {town.token}")
    assert r.status_code == 400 and _error(r)[0] == "kiosk.time_missing"


@pytest.mark.parametrize(
    ("body", "status", "code", "says"),
    [
        (b"{not json", 400, "contract.malformed", "not JSON"),
        (json.dumps({**package(), "identity": {"name": "x"}}).encode(), 400, "contract.missing_field",
         "case.identity.id_number"),
        (json.dumps({**package(), "phone": "12345"}).encode(), 400, "contract.malformed", "case.phone"),
        (json.dumps({**package(), "card_photo_jpeg_b64": "A" * (contract.MAX_PACKAGE_BYTES + 10)}).encode(), 413,
         "contract.too_large", "limit"),
        (json.dumps({**package(), "contract": contract.CONTRACT_VERSION + 1}).encode(), 422,
         "contract.version_unsupported", f"version {contract.CONTRACT_VERSION + 1}"),
        (json.dumps(package("C3MRU76F")).encode(), 400, "case.code_mismatch", "C3MRU76F"),
    ],
    ids=["not-json", "missing-field", "bad-phone", "oversized", "newer-contract", "code-mismatch"],
)
def test_bad_packages_are_refused_clearly_and_nothing_is_stored(client, town: Town, body: bytes, status: int,
                                                                code: str, says: str) -> None:
    r = client.put("/api/v1/cases/C3MRU76E", body, content_type="application/json", **kiosk_headers(town.token))
    assert r.status_code == status
    got_code, message = _error(r)
    assert got_code == code and says in message
    assert Case.objects.count() == 0 and CaseHistory.objects.count() == 0


def test_events_are_taken_once_and_move_the_case(client, town: Town) -> None:
    deliver(client, town.token, package(files={}), {})
    ev = contract.KioskEvent("ev-collected-1", "C3MRU76E", "collected", time.time(), "staff:04A1…C3", "A03")
    unknown = contract.KioskEvent("ev-2", "ZZZZZZZZ", "collected", time.time(), "staff:04A1…C3")
    batch = json.dumps(contract.EventBatch("qidu-centre", time.time(), (ev, unknown)).to_json())
    for _ in range(2):
        r = client.post("/api/v1/events", batch, content_type="application/json", **kiosk_headers(town.token))
        receipt = contract.EventsReceipt.from_json(r.json())
        assert receipt.accepted == ("ev-collected-1",) and "ev-2" in receipt.refused
    case = Case.objects.get()
    assert case.state == "collected" and case.collected_by == "staff:04A1…C3"
    assert KioskEventRecord.objects.count() == 1
    assert case.history.filter(action="kiosk_collected").count() == 1


def test_identity_is_encrypted_at_rest_and_never_logged(client, town: Town, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    deliver(client, town.token, package(files={}), {})
    with connection.cursor() as cur:
        cur.execute("SELECT * FROM cases_case")
        row = repr(cur.fetchall())
    for secret in (RESIDENT_NAME, RESIDENT_ID, RESIDENT_PHONE):
        assert secret not in row
        assert secret not in caplog.text
    client.login(username="clerk", password=PASSWORD)
    r = client.post("/cases/C3MRU76E/reveal", {"reason": "核对申请人身份"})
    assert RESIDENT_ID in r.content.decode()
    for secret in (RESIDENT_NAME, RESIDENT_ID, RESIDENT_PHONE):
        assert secret not in caplog.text


def test_history_is_append_only_in_the_app_and_in_postgresql(client, town: Town) -> None:
    from django.db import transaction
    from django.db.utils import DatabaseError

    deliver(client, town.token, package(files={}), {})
    entry = CaseHistory.objects.get()
    entry.note = "rewritten"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        CaseHistory.objects.all().delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE cases_casehistory SET note = 'rewritten'")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM cases_casehistory")
    assert CaseHistory.objects.get().note == ""


def test_a_clerk_of_another_town_cannot_open_a_case(client, town: Town) -> None:
    deliver(client, town.token, package(files={"id_copy-1": make_pdf(1)}), {"id_copy-1": make_pdf(1)})
    client.login(username="sz-clerk", password=PASSWORD)
    for url in ("/cases/C3MRU76E/", "/cases/C3MRU76E/scans/id_copy-1/1.png",
                "/api/v1/export/cases/C3MRU76E", "/api/v1/export/cases/C3MRU76E/package.zip"):
        assert client.get(url).status_code == 404, url
    assert client.post("/cases/C3MRU76E/step", {"step": "collect"}).status_code == 404
    assert "C3MRU76E" not in client.get("/").content.decode()
    # Kiosk staff see only the kiosks they serve (this case is at the centre, they serve a village).
    client.login(username="staff", password=PASSWORD)
    assert client.get("/cases/C3MRU76E/").status_code == 404
    client.login(username="clerk", password=PASSWORD)
    assert client.get("/cases/C3MRU76E/").status_code == 200
    # Another town's kiosk cannot touch this case either.
    r = client.get("/api/v1/cases/C3MRU76E/files/id_copy-1", **kiosk_headers(town.other_token))
    assert r.status_code == 404


def test_export_api_schema_list_and_zip(client, town: Town) -> None:
    import io
    import zipfile

    from backoffice.accounts.actions import issue_api_token

    pdf = make_pdf(2)
    deliver(client, town.token, package(files={"id_copy-1": pdf}), {"id_copy-1": pdf})
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.") and "/api/v1/export/cases/{case_code}/package.zip" in schema["paths"]
    assert client.get("/api/v1/export/cases").status_code == 401
    key = issue_api_token(town.users["platform"], "test")
    listing = client.get("/api/v1/export/cases", HTTP_AUTHORIZATION=f"Token {key}").json()
    assert [c["case_code"] for c in listing["cases"]] == ["C3MRU76E"]
    r = client.get("/api/v1/export/cases/C3MRU76E/package.zip", HTTP_AUTHORIZATION=f"Token {key}")
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    doc = json.loads(zf.read("case.json"))
    assert doc["identity"]["id_number"] == RESIDENT_ID
    assert [p["status"] for p in doc["papers"] if p["paper_id"] == "hukou"] == ["deferred"]
    path = doc["files"][0]["path"]
    assert hashlib.sha256(zf.read(path)).hexdigest() == doc["files"][0]["sha256"]
    case = Case.objects.get()
    assert case.reveals.get().reason == "export: zip" and case.reveals.get().user.username == "platform"
    assert client.get("/api/v1/export/cases", HTTP_AUTHORIZATION="Token nope").status_code == 401


def test_due_dates_skip_weekends() -> None:
    from backoffice.cases.workdays import add_working_days, holiday_calendar_in_use

    friday = dt.date(2026, 3, 13)
    assert add_working_days(friday, 1) == dt.date(2026, 3, 16)  # Monday
    assert add_working_days(friday, 5) == dt.date(2026, 3, 20)
    if holiday_calendar_in_use():  # 2026 National Day week: 1-7 October off
        assert add_working_days(dt.date(2026, 9, 30), 1) > dt.date(2026, 10, 7)


def test_admin_creates_a_kiosk_sees_its_code_once_and_revokes_it(client, town: Town) -> None:
    import re

    client.login(username="clerk", password=PASSWORD)
    assert client.get("/kiosks/").status_code == 403  # only administrators manage kiosks
    client.login(username="admin", password=PASSWORD)
    page = client.post("/kiosks/", {"kiosk_id": "qidu-fengmin", "name": "丰民村", "village": "丰民村"}).content.decode()
    code = re.search(r'id="enrol-code"[^>]*>([A-Z0-9-]+)<', page).group(1)
    assert code not in client.get("/kiosks/").content.decode()  # shown once
    r = client.post("/api/v1/enrol", json.dumps(contract.EnrolRequest(code, "1.0").to_json()),
                    content_type="application/json")
    token = contract.EnrolResponse.from_json(r.json()).credential
    batch = json.dumps(contract.EventBatch("qidu-fengmin", time.time(), ()).to_json())
    assert client.post("/api/v1/events", batch, content_type="application/json",
                       **kiosk_headers(token)).status_code == 200
    client.post("/kiosks/qidu-fengmin/revoke")
    r = client.post("/api/v1/events", batch, content_type="application/json", **kiosk_headers(token))
    assert r.status_code == 401 and _error(r)[0] == "kiosk.revoked"
    assert "kiosk.revoked" in client.get("/kiosks/").content.decode()  # the refusal is listed for the admin


def test_demo_setup_twice_refreshes_codes_and_passwords_and_duplicates_nothing(client, db) -> None:  # type: ignore[no-untyped-def]
    import io
    import re

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from backoffice.kiosks.models import Kiosk

    outs = []
    for _ in range(2):
        buf = io.StringIO()
        call_command("demo_setup", stdout=buf)
        outs.append(buf.getvalue())
    assert Kiosk.objects.filter(kiosk_id="qidu-sim").count() == 1 and get_user_model().objects.count() == 6
    codes = [re.search(r"^ENROL_CODE=(\S+)$", o, re.M).group(1) for o in outs]
    passwords = [re.search(r"^BACKOFFICE_USER=qidu-clerk BACKOFFICE_PASSWORD=(\S+)", o, re.M).group(1) for o in outs]
    assert codes[0] != codes[1]
    assert client.login(username="qidu-clerk", password=passwords[1])
    assert not client.login(username="qidu-clerk", password=passwords[0])
    enrol = [client.post("/api/v1/enrol", json.dumps(contract.EnrolRequest(c, "1.0").to_json()),
                         content_type="application/json").status_code for c in codes]
    assert enrol == [401, 201]  # only the newest code works


def test_reveal_without_a_real_reason_shows_nothing_and_says_why(client, town: Town) -> None:
    from backoffice.cases.models import IdentityReveal

    deliver(client, town.token, package(files={}), {})
    client.login(username="clerk", password=PASSWORD)
    r = client.post("/cases/C3MRU76E/reveal", {"reason": " x "}, follow=True)
    page = r.content.decode()
    assert RESIDENT_ID not in page and RESIDENT_NAME not in page
    assert "请说明查看身份信息的原因" in page
    assert IdentityReveal.objects.count() == 0
    # A step the role may not take is refused with a message, and nothing changes.
    client.login(username="staff", password=PASSWORD)
    deliver(client, town.village_token, package("VVVV2345", "qidu-kaixiangong", files={}), {})
    r = client.post("/cases/VVVV2345/step", {"step": "approve"}, follow=True)
    assert "您的角色不能执行此步骤" in r.content.decode()
    assert Case.objects.get(case_code="VVVV2345").state == "received"


def test_result_placed_and_collected_at_the_kiosk_return_and_close_the_case(client, town: Town) -> None:
    from backoffice.cases import actions

    deliver(client, town.token, package(files={}), {})
    clerk = town.users["clerk"]
    case = Case.objects.get()
    for step in ("collect", "process", "approve"):
        case = actions.take_step(case, clerk, step)
    events = (contract.KioskEvent("ev-placed", "C3MRU76E", "result_placed", time.time(), "staff:04A1…C3", "B02"),
              contract.KioskEvent("ev-taken", "C3MRU76E", "result_collected", time.time(), "resident", "B02"))
    r = client.post("/api/v1/events", json.dumps(contract.EventBatch("qidu-centre", time.time(), events).to_json()),
                    content_type="application/json", **kiosk_headers(town.token))
    assert r.json()["accepted"] == ["ev-placed", "ev-taken"]
    case.refresh_from_db()
    assert (case.state, case.result_channel) == ("closed", "locker")
    assert list(case.history.values_list("action", "to_state"))[-2:] == [("kiosk_result_placed", "returned"),
                                                                          ("kiosk_result_collected", "closed")]


def test_a_file_that_is_no_pdf_is_named_on_the_case_page(client, town: Town) -> None:
    broken = b"%PDF-1.4 this is not really a PDF"
    deliver(client, town.token, package(files={"id_copy-1": broken}), {"id_copy-1": broken})
    client.login(username="clerk", password=PASSWORD)
    page = client.get("/cases/C3MRU76E/").content.decode()
    assert "无法显示为页面" in page and "id_copy-1" in page
