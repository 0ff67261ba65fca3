"""Cases travel from the kiosk's store to the real back office (Django in its own process), at least
once and stored once, through outages, cut connections and lost answers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sync_support import Backoffice, CutProxy, Kiosk, deposit, kiosk_at, worker_for

import contract
from kiosk.sync.enrol import enrol
from kiosk.sync.status import findings

_kiosks = iter(range(1, 1000))


@pytest.fixture
def kiosk(tmp_path: Path, backoffice: Backoffice) -> Iterator[Kiosk]:
    """A fresh kiosk store, enrolled with the (shared) back office as a kiosk of its own."""
    kiosk_id = f"qidu-{next(_kiosks):02d}"
    code = backoffice.new_kiosk(kiosk_id)
    with kiosk_at(tmp_path, backoffice.url) as k:
        enrol(k.cfg, backoffice.url, code)
        yield k


def plain_scans(k: Kiosk, case_code: str) -> dict[str, str]:
    """The SHA-256 of each of the case's scans as the resident's papers (the kiosk decrypts them)."""
    from kiosk.sync.package import file_id_of

    case = k.store.submissions.get_case(case_code)
    return {file_id_of(p, 0): hashlib.sha256(k.store.submissions.read_scan(case_code, p, 0)).hexdigest()
            for p, s in case.papers.items() if s.value == "scanned"}


def test_back_office_down_while_kiosk_takes_deposits_then_everything_arrives_once(
        kiosk: Kiosk, backoffice: Backoffice) -> None:
    worker = worker_for(kiosk)
    backoffice.stop()
    try:
        codes = [deposit(kiosk, seed=i, defer=("bank_card",) if i == 1 else ()) for i in range(3)]
        report = worker.run_once()
        assert report.stopped == "unreachable" and not report.acknowledged
        assert all(kiosk.store.submissions.get_case(c).state.value == "committed" for c in codes)
        waiting = {f.what: f for f in findings(kiosk.cfg)}["deliveries"]
        assert waiting.ok and "3 waiting" in waiting.detail, waiting  # the technician sees the backlog
        assert "Connection refused" in waiting.detail  # and why
        # One refused connection ends the round: the other cases would meet the same wall.
        assert [bool(d.last_error) for d in worker.queue.all()].count(True) == 1
    finally:
        backoffice.start()
    for d in worker.queue.all():  # the back-off would wait; the test does not
        kiosk.store.db.execute("UPDATE deliveries SET next_attempt_at = 0 WHERE case_code = ?", (d.case_code,))
    report = worker.run_once()
    assert sorted(report.acknowledged) == sorted(codes)
    assert worker.run_once().acknowledged == []  # nothing goes twice

    held = backoffice.cases()
    for code in codes:
        case = held[code]
        assert case["state"] == "received" and case["name_masked"] != "张三"
        assert case["service"] == kiosk.guide.get("housing_fund_deposit").name_zh
        assert case["days"] == kiosk.guide.get("housing_fund_deposit").processing_days
        assert case["face_distance"] == pytest.approx(0.412) and case["frames"] == 9 and case["fingerprint"]
        assert case["compartment"] == "A01"
        assert case["history"].count("received") == 1
        expected = plain_scans(kiosk, code)
        assert {fid: f["stored_sha256"] for fid, f in case["files"].items()} == expected
        assert all(f["complete"] and f["chunks"] == 0 and f["pages"] == 1 for f in case["files"].values())
    assert held[codes[1]]["papers"]["bank_card"] == "deferred" and len(held[codes[1]]["files"]) == 1
    assert {f.what: f for f in findings(kiosk.cfg)}["deliveries"].detail.startswith("none waiting (3 delivered")


def test_connection_cut_in_the_middle_of_a_scan_resumes_without_a_duplicate(
        kiosk: Kiosk, backoffice: Backoffice) -> None:
    proxy = CutProxy(backoffice.port)
    try:
        code = deposit(kiosk, service_id="property_certificate_print", scan_bytes=3_000_000,
                       defer=("property_cert",))
        # Route this kiosk through the proxy: same back office, a cable that can be pulled.
        object.__setattr__(kiosk.cfg.backoffice, "url", proxy.url)
        worker = worker_for(kiosk)
        package_bytes = len(worker.queue.frozen_package(code) or b"") or 4000
        proxy.cut_after_upstream = package_bytes + 2 * contract.MAX_CHUNK_BYTES - 200_000  # inside chunk 2
        first = worker.run_once()
        assert first.stopped == "unreachable" and proxy.cuts == 1
        [(fid, f)] = backoffice.cases()[code]["files"].items()
        assert f["received"] == contract.MAX_CHUNK_BYTES and not f["complete"]  # chunk 1 held, chunk 2 lost

        kiosk.store.db.execute("UPDATE deliveries SET next_attempt_at = 0")
        second = worker.run_once()
        assert second.acknowledged == [code]
        size = f["size"]
        assert second.bytes_uploaded == size - contract.MAX_CHUNK_BYTES  # resumed, not restarted
        after = backoffice.cases()[code]["files"][fid]
        assert after["complete"] and after["stored_sha256"] == plain_scans(kiosk, code)[fid]
        assert after["chunks"] == 0 and after["received"] == size
    finally:
        proxy.close()


def test_the_same_delivery_twice_changes_nothing(kiosk: Kiosk, backoffice: Backoffice) -> None:
    proxy = CutProxy(backoffice.port)
    try:
        object.__setattr__(kiosk.cfg.backoffice, "url", proxy.url)
        code = deposit(kiosk, service_id="property_certificate_print", scan_bytes=300_000)
        worker = worker_for(kiosk)
        proxy.drop_responses = 1  # the back office stores the case; its answer never reaches the kiosk
        assert worker.run_once().stopped == "unreachable"
        assert code in backoffice.cases()
        kiosk.store.db.execute("UPDATE deliveries SET next_attempt_at = 0")
        assert worker.run_once().acknowledged == [code]

        # And once more by hand, package and every file, after the acknowledgement.
        from kiosk.sync.credential import credential_path, load_credential
        from kiosk.sync.package import build_package

        cred = load_credential(credential_path(kiosk.cfg))
        client = worker.client_for(cred)
        pkg = build_package(kiosk.store.submissions, kiosk.guide, cred.kiosk_id, code)
        again = client.put_case(code, contract.dumps(pkg))
        assert not again.created and again.complete
        for f in pkg.files:
            data = kiosk.store.submissions.read_scan(code, f.paper_id, f.page)
            status = client.put_chunk(code, f.file_id, 0, data[:contract.MAX_CHUNK_BYTES], f.size)
            assert status.complete and status.received == f.size
        held = backoffice.cases()[code]
        assert held["history"].count("received") == 1
        assert all(f["complete"] and f["chunks"] == 0 for f in held["files"].values())
    finally:
        proxy.close()


def test_events_after_the_case_arrive_once_and_move_the_case(kiosk: Kiosk, backoffice: Backoffice) -> None:
    code = deposit(kiosk, service_id="property_certificate_print", scan_bytes=100_000)
    worker = worker_for(kiosk)
    # Collected before the case was delivered: the event waits for its case.
    kiosk.store.submissions.mark_collected(code, staff="staff:04****C3")
    first = worker.run_once()
    assert first.acknowledged == [code] and first.events_sent == 1
    held = backoffice.cases()[code]
    assert held["state"] == "collected"
    mine = [e for e in backoffice.events() if e["case"] == code]
    assert [e["kind"] for e in mine] == ["collected"]
    # A resend (the answer lost, the cursor not saved) is recognised by its event id.
    worker.queue.set_state("events_cursor", 0)
    assert worker.run_once().events_sent >= 1
    assert [e["kind"] for e in backoffice.events() if e["case"] == code] == ["collected"]


def test_door_events_travel_and_wait_for_a_case_still_being_deposited(kiosk: Kiosk, backoffice: Backoffice) -> None:
    from locker.submissions import Identity

    worker = worker_for(kiosk)
    audit = kiosk.store.audit
    # A compartment forced open while empty: a door event with no case.
    audit.append("system", "locker.forced_open", detail={"compartment": "C02", "what": "door opened without a pulse"})
    # A resident is mid-deposit when the first door jams: the jam names a case that is still a draft.
    subs = kiosk.store.submissions
    service = kiosk.guide.get("property_certificate_print")
    ticket = subs.open_draft(service_id=service.id, required_papers=service.paper_ids,
                             identity=Identity("李四", "110101198001011235", {}))
    audit.append("system", "locker.jammed", case_code=ticket.case_code,
                 detail={"tx": 7, "compartment": "A03", "result": "door did not open"})
    first = worker.run_once()
    assert first.events_sent == 1  # the forced door went; the jam waits for its case
    kinds = {e["event_id"]: e for e in backoffice.events()}
    assert [e["kind"] for e in kinds.values() if e["case"] is None][-1] == "forced_open"
    assert ticket.case_code not in backoffice.cases()

    for p in service.paper_ids:
        subs.defer_paper(ticket.case_code, p)
    subs.commit_submission(ticket.case_code, compartment_id="A04")
    second = worker.run_once()
    assert second.acknowledged == [ticket.case_code] and second.events_sent == 1
    held = backoffice.cases()[ticket.case_code]
    assert "door_jammed" in held["alert"] and "A03" in held["alert"]  # the clerk sees the jam on the case
    assert [e["kind"] for e in backoffice.events() if e["case"] == ticket.case_code] == ["door_jammed"]


def test_a_fresh_case_waits_for_its_receipt_so_the_clerk_knows_whether_the_resident_holds_one(
        kiosk: Kiosk, backoffice: Backoffice) -> None:
    worker = worker_for(kiosk, receipt_grace_s=600)
    code = deposit(kiosk, service_id="property_certificate_print", scan_bytes=50_000)
    assert worker.run_once().acknowledged == []  # the printer is still printing
    assert worker.queue.get(code).attempts == 0 and code not in backoffice.cases()
    kiosk.store.audit.append("kiosk", "case.receipt_printed", case_code=code)
    assert worker.run_once().acknowledged == [code]
    assert backoffice.cases()[code]["receipt_printed"] is True
