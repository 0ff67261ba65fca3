"""Cases from draft to closed: durable commit, papers and 容缺, states, scans and their checksums."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from locker.errors import CaseNotFound, DecryptionError, IncompleteSubmission, InvalidTransition
from locker.store import Store
from locker.submissions import CASE_CODE_ALPHABET, CaseState, Identity, PaperStatus

ID = "44010119900101123X"
ALICE = Identity("张三丰", ID, {"address": "广州市某街1号"})


def open_store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "data", tmp_path / "keys" / "store.key", create_key=True)


def test_committed_case_survives_a_reopen_with_its_identity_and_scans(tmp_path: Path) -> None:
    with open_store(tmp_path) as s:
        t = s.submissions.open_draft(
            service_id="hukou",
            required_papers=["form", "photo"],
            identity=ALICE,
            card_photo=b"JPEG",
            fingerprint=b"TEMPLATE",
        )
        s.submissions.add_scan(t.case_code, "form", 1, b"page one")
        s.submissions.add_scan(t.case_code, "form", 2, b"page two")
        s.submissions.defer_paper(t.case_code, "photo")
        s.submissions.commit_submission(t.case_code, compartment_id="B07")
    with open_store(tmp_path) as s:
        case = s.submissions.get_case(t.case_code)
        assert case.state is CaseState.COMMITTED
        assert case.compartment_id == "B07"
        assert case.papers == {"form": PaperStatus.SCANNED, "photo": PaperStatus.DEFERRED}
        assert case.deferred_papers == ("photo",)
        assert case.id_masked == "4401************3X"
        assert s.submissions.identity(t.case_code) == ALICE
        assert s.submissions.card_photo(t.case_code) == b"JPEG"
        assert s.submissions.fingerprint(t.case_code) == b"TEMPLATE"
        assert s.submissions.read_scan(t.case_code, "form", 2) == b"page two"
        assert [c.case_code for c in s.submissions.pending_pickups()] == [t.case_code]
        assert s.submissions.find_by_pickup_code(t.pickup_code).case_code == t.case_code
        assert s.verify_audit().ok


def test_personal_data_is_not_in_the_database_file_in_clear(tmp_path: Path) -> None:
    with open_store(tmp_path) as s:
        t = s.submissions.open_draft(service_id="x", required_papers=["a"], identity=ALICE)
        s.submissions.add_scan(t.case_code, "a", 1, b"SECRET-SCAN-CONTENT")
    blob = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
    for secret in (ID.encode(), "张三丰".encode(), b"SECRET-SCAN-CONTENT"):
        assert secret not in blob
    with open_store(tmp_path) as s:  # the pickup code is kept only as a keyed MAC
        assert s.db.query_one("SELECT pickup_mac FROM cases")[0] != t.pickup_code


def test_case_code_is_unambiguous_and_pickup_code_is_six_digits(tmp_path: Path) -> None:
    with open_store(tmp_path) as s:
        codes = [s.submissions.open_draft(service_id="x", required_papers=[], identity=ALICE) for _ in range(20)]
    for t in codes:
        assert len(t.case_code) == 8 and set(t.case_code) <= set(CASE_CODE_ALPHABET)
        assert not set(t.case_code) & set("0O1I")
        assert len(t.pickup_code) == 6 and t.pickup_code.isdigit()
    assert len({t.case_code for t in codes}) == 20


def test_commit_refuses_a_missing_paper(tmp_path: Path) -> None:
    with open_store(tmp_path) as s:
        t = s.submissions.open_draft(service_id="x", required_papers=["a", "b"], identity=ALICE)
        s.submissions.add_scan(t.case_code, "a", 1, b"x")
        with pytest.raises(IncompleteSubmission, match="b"):
            s.submissions.commit_submission(t.case_code, compartment_id="A1")
        assert s.submissions.get_case(t.case_code).state is CaseState.DRAFT


def test_lifecycle_and_refused_transitions(tmp_path: Path) -> None:
    with open_store(tmp_path) as s:
        sub = s.submissions
        t = sub.open_draft(service_id="x", required_papers=[], identity=ALICE)
        with pytest.raises(InvalidTransition):
            sub.mark_collected(t.case_code, staff="staff-7")  # still a draft
        sub.commit_submission(t.case_code, compartment_id="A1")
        with pytest.raises(InvalidTransition):
            sub.add_scan(t.case_code, "a", 1, b"late")
        sub.mark_collected(t.case_code, staff="staff-7")
        assert sub.pending_pickups() == []
        sub.advance(t.case_code, CaseState.PROCESSING, actor="staff-7")
        sub.advance(t.case_code, CaseState.RESULT_READY, actor="staff-7", compartment_id="C3")
        assert sub.get_case(t.case_code).compartment_id == "C3"
        sub.advance(t.case_code, CaseState.RESULT_COLLECTED, actor="resident")
        closed = sub.advance(t.case_code, CaseState.CLOSED, actor="system")
        assert closed.state is CaseState.CLOSED
        with pytest.raises(InvalidTransition):
            sub.cancel(t.case_code, actor="staff-7", reason="too late")
        with pytest.raises(CaseNotFound):
            sub.find_by_pickup_code(t.pickup_code)  # closed cases no longer answer to the code
        actions = [r["action"] for r in s.audit.rows(t.case_code)]
        assert actions == [
            "case.draft",
            "case.committed",
            "case.collected",
            "case.processing",
            "case.result_ready",
            "case.result_collected",
            "case.closed",
        ]
        assert s.audit.rows(t.case_code)[2]["actor"] == "staff-7"


def test_unknown_case_and_pickup_code(tmp_path: Path) -> None:
    with open_store(tmp_path) as s:
        with pytest.raises(CaseNotFound):
            s.submissions.get_case("ZZZZZZZZ")
        with pytest.raises(CaseNotFound):
            s.submissions.find_by_pickup_code("000000")


def test_verify_scans_finds_altered_and_missing_files(tmp_path: Path) -> None:
    with open_store(tmp_path) as s:
        t = s.submissions.open_draft(service_id="x", required_papers=["a"], identity=ALICE)
        r1 = s.submissions.add_scan(t.case_code, "a", 1, b"one")
        r2 = s.submissions.add_scan(t.case_code, "a", 2, b"two")
        assert s.submissions.verify_scans() == []
        p1 = s.scans.path(r1.rel_path)
        data = bytearray(p1.read_bytes())
        data[-1] ^= 1
        p1.write_bytes(bytes(data))
        s.scans.path(r2.rel_path).unlink()
        found = {(p.page, p.kind) for p in s.submissions.verify_scans()}
        assert found == {(1, "altered"), (2, "missing")}
        with pytest.raises(Exception, match="checksum"):
            s.submissions.read_scan(t.case_code, "a", 1)


def test_scan_file_copied_over_another_page_is_refused(tmp_path: Path) -> None:
    with open_store(tmp_path) as s:
        t = s.submissions.open_draft(service_id="x", required_papers=["a"], identity=ALICE)
        r1 = s.submissions.add_scan(t.case_code, "a", 1, b"one")
        r2 = s.submissions.add_scan(t.case_code, "a", 2, b"two")
        # Replace page 2 by page 1's file and fix the recorded checksum: only the AEAD binding is left.
        s.scans.path(r2.rel_path).write_bytes(s.scans.path(r1.rel_path).read_bytes())
        s.db.execute("UPDATE scan_files SET sha256 = ? WHERE page = 2", (r1.sha256,))
        with pytest.raises(DecryptionError):
            s.submissions.read_scan(t.case_code, "a", 2)


def test_logs_carry_only_masked_id_numbers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with open_store(tmp_path) as s:
        t = s.submissions.open_draft(service_id="x", required_papers=[], identity=ALICE)
        s.submissions.commit_submission(t.case_code, compartment_id="A1")
        assert ID not in str(s.audit.rows())
    assert "4401************3X" in caplog.text
    assert ID not in caplog.text
    assert ID not in repr(ALICE)


def test_stale_drafts_and_orphan_scan_files_are_listed(tmp_path: Path) -> None:
    now = [1_000_000.0]
    with Store.open(tmp_path / "d", tmp_path / "k.key", create_key=True, clock=lambda: now[0]) as s:
        old = s.submissions.open_draft(service_id="x", required_papers=["a"], identity=ALICE)
        now[0] += 3600
        fresh = s.submissions.open_draft(service_id="x", required_papers=["a"], identity=ALICE)
        assert s.submissions.stale_drafts(older_than_s=600) == [old.case_code]
        s.submissions.add_scan(fresh.case_code, "a", 1, b"recorded")
        assert s.submissions.orphan_scan_files() == []
        ref = s.scans.write(old.case_code, "a", 1, b"written, then the kiosk lost power before recording it")
        assert s.submissions.orphan_scan_files() == [ref.rel_path]
        assert ref.rel_path.startswith(f"{old.case_code}/a.")


def test_codes_typed_in_lower_case_find_the_same_case_and_scans(tmp_path: Path) -> None:
    with open_store(tmp_path) as s:
        t = s.submissions.open_draft(service_id="x", required_papers=["a"], identity=ALICE)
        s.submissions.add_scan(f" {t.case_code.lower()} ", "a", 1, b"page")
        assert s.submissions.read_scan(t.case_code, "a", 1) == b"page"
        assert s.submissions.get_case(t.case_code.lower()).papers == {"a": PaperStatus.SCANNED}


def test_papers_with_chinese_names_keep_separate_files(tmp_path: Path) -> None:
    """身份证 and 户口本 flatten to the same ASCII; each must still keep its own scan file."""
    from locker.store import Store
    from locker.submissions import Identity

    with Store.open(tmp_path / "data", tmp_path / "keys/k.key", create_key=True) as store:
        ticket = store.submissions.open_draft(service_id="s", required_papers=["身份证", "户口本"],
                                              identity=Identity("李四", "44010119900101123X"))
        store.submissions.add_scan(ticket.case_code, "身份证", 1, b"id card page")
        store.submissions.add_scan(ticket.case_code, "户口本", 1, b"household register page")
        assert store.submissions.read_scan(ticket.case_code, "身份证", 1) == b"id card page"
        assert store.submissions.read_scan(ticket.case_code, "户口本", 1) == b"household register page"
        assert store.submissions.verify_scans() == []
