"""Retention: personal data goes N days after collection, the skeleton and the audit trail stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from locker.errors import CaseNotFound
from locker.retention import DAY, RetentionJob
from locker.store import Store
from locker.submissions import CaseState, Identity

ID = "44010119900101123X"


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_purge_happens_after_the_configured_days_and_keeps_the_skeleton(tmp_path: Path) -> None:
    clock = Clock()
    with Store.open(tmp_path / "d", tmp_path / "k.key", create_key=True, clock=clock) as s:
        sub = s.submissions
        old = sub.open_draft(
            service_id="hukou",
            required_papers=["form"],
            identity=Identity("张三", ID),
            card_photo=b"JPEG",
            fingerprint=b"FP",
        )
        ref = sub.add_scan(old.case_code, "form", 1, b"scan")
        sub.commit_submission(old.case_code, compartment_id="A1")
        waiting = sub.open_draft(service_id="hukou", required_papers=[], identity=Identity("李四", ID))
        sub.commit_submission(waiting.case_code, compartment_id="A2")  # never collected: kept
        sub.mark_collected(old.case_code, staff="staff-1")
        job = RetentionJob(sub, days=30, hold_undelivered=False)

        clock.t += 30 * DAY - 1
        assert job.run().purged_cases == []
        assert sub.identity(old.case_code).id_number == ID

        clock.t += 2
        result = job.run()
        assert result.purged_cases == [old.case_code] and result.files_removed == 1
        assert not s.scans.path(ref.rel_path).exists()
        case = sub.get_case(old.case_code)
        assert case.purged and case.state is CaseState.COLLECTED and case.service_id == "hukou"
        assert case.id_masked is None and case.name_masked is None
        for read in (sub.identity, sub.card_photo, sub.fingerprint):
            with pytest.raises(CaseNotFound, match="purged"):
                read(old.case_code)
        with pytest.raises(CaseNotFound):
            sub.read_scan(old.case_code, "form", 1)
        row = s.db.query_one(
            "SELECT identity_enc, photo_enc, fingerprint_enc FROM cases WHERE case_code = ?", (old.case_code,)
        )
        assert tuple(row) == (None, None, None)
        assert sub.verify_scans() == []  # purged scans are not reported as missing
        actions = [r["action"] for r in s.audit.rows(old.case_code)]
        assert actions[-1] == "case.purged" and "case.committed" in actions
        assert s.verify_audit().ok
        assert sub.identity(waiting.case_code).name == "李四"
        assert job.run().purged_cases == []  # idempotent


def test_cancelled_case_is_purged_too(tmp_path: Path) -> None:
    clock = Clock()
    with Store.open(tmp_path / "d", tmp_path / "k.key", create_key=True, clock=clock) as s:
        t = s.submissions.open_draft(service_id="x", required_papers=[], identity=Identity("王五", ID))
        s.submissions.cancel(t.case_code, actor="resident", reason="walked away")
        clock.t += 8 * DAY
        assert RetentionJob(s.submissions, days=7, hold_undelivered=False).run().purged_cases == [t.case_code]


def test_files_left_by_a_crash_after_the_purge_commit_are_removed_next_run(tmp_path: Path) -> None:
    clock = Clock()
    with Store.open(tmp_path / "d", tmp_path / "k.key", create_key=True, clock=clock) as s:
        t = s.submissions.open_draft(service_id="x", required_papers=["a"], identity=Identity("赵六", ID))
        ref = s.submissions.add_scan(t.case_code, "a", 1, b"page")
        s.submissions.commit_submission(t.case_code, compartment_id="A1")
        s.submissions.mark_collected(t.case_code, staff="s")
        clock.t += 2 * DAY
        job = RetentionJob(s.submissions, days=1, hold_undelivered=False)
        job.sweep = lambda: 0  # type: ignore[method-assign]  # "crash" before unlinking
        job.run()
        assert s.scans.path(ref.rel_path).exists()
        assert RetentionJob(s.submissions, days=1, hold_undelivered=False).run().files_removed == 1
        assert not s.scans.path(ref.rel_path).exists()


def test_case_awaiting_its_result_keeps_the_identity_until_the_result_is_collected(tmp_path: Path) -> None:
    clock = Clock()
    with Store.open(tmp_path / "d", tmp_path / "k.key", create_key=True, clock=clock) as s:
        sub = s.submissions
        t = sub.open_draft(service_id="x", required_papers=[], identity=Identity("孙七", ID))
        sub.commit_submission(t.case_code, compartment_id="A1")
        sub.mark_collected(t.case_code, staff="s")
        sub.advance(t.case_code, CaseState.PROCESSING, actor="s")
        sub.advance(t.case_code, CaseState.RESULT_READY, actor="s", compartment_id="A2")
        clock.t += 90 * DAY
        job = RetentionJob(sub, days=30, hold_undelivered=False)
        assert job.run().purged_cases == []
        assert sub.identity(t.case_code).id_number == ID  # needed to hand the result back
        sub.advance(t.case_code, CaseState.RESULT_COLLECTED, actor="resident")
        assert job.run().purged_cases == [t.case_code]
