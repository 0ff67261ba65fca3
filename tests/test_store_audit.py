"""The hash-chained audit log finds an altered row, a deleted row and a cut-off tail, by row."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from locker.audit import AuditLog, verify_chain
from locker.db import Database
from locker.errors import AuditChainBroken


def make_log(tmp_path: Path, rows: int = 6) -> tuple[Database, AuditLog]:
    db = Database(tmp_path / "k.sqlite3")
    audit = AuditLog(db, clock=iter(range(1000, 2000)).__next__)
    for i in range(rows):
        audit.append(f"staff-{i}", "case.collected", case_code=f"CASE000{i}", detail={"compartment": f"A{i}"})
    return db, audit


def raw(tmp_path: Path, sql: str, params: tuple[object, ...] = ()) -> None:
    """Tamper with the file behind the program's back, as an attacker with a SQLite shell would."""
    conn = sqlite3.connect(tmp_path / "k.sqlite3")
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def test_intact_chain_verifies(tmp_path: Path) -> None:
    db, audit = make_log(tmp_path)
    report = audit.verify()
    assert report.ok and report.rows == 6 and report.last_seq == 6 and report.anchor_seq == 6
    assert "OK" in str(report)
    db.close()


def test_changed_content_is_found_at_that_row(tmp_path: Path) -> None:
    db, audit = make_log(tmp_path)
    raw(tmp_path, "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3")
    report = audit.verify()
    assert not report.ok
    assert [(p.seq, p.kind) for p in report.problems] == [(3, "altered")]
    assert "row 3: altered" in str(report) and "BROKEN" in str(report)
    db.close()


def test_rehashed_row_still_breaks_the_link_to_the_next(tmp_path: Path) -> None:
    db, audit = make_log(tmp_path)
    raw(tmp_path, "UPDATE audit_log SET detail = '{}', hash = ? WHERE seq = 2", ("f" * 64,))
    kinds = [(p.seq, p.kind) for p in audit.verify().problems]
    assert (2, "altered") in kinds and (3, "relinked") in kinds
    db.close()


def test_deleted_row_is_found_as_a_gap(tmp_path: Path) -> None:
    db, audit = make_log(tmp_path)
    raw(tmp_path, "DELETE FROM audit_log WHERE seq = 4")
    report = audit.verify()
    assert [(p.seq, p.kind) for p in report.problems] == [(4, "deleted")]
    db.close()


def test_truncated_tail_is_found_through_the_anchor(tmp_path: Path) -> None:
    db, audit = make_log(tmp_path)
    raw(tmp_path, "DELETE FROM audit_log WHERE seq >= 5")
    report = verify_chain(db)
    assert [(p.seq, p.kind) for p in report.problems] == [(5, "truncated")]
    assert "5..6" in str(report)
    # New rows written afterwards do not hide the cut: they continue after the anchor.
    audit.append("system", "case.committed", case_code="NEWCASE2")
    assert [(p.seq, p.kind) for p in audit.verify().problems] == [(5, "deleted")]
    db.close()


def test_missing_anchor_and_lagging_anchor(tmp_path: Path) -> None:
    db, audit = make_log(tmp_path, rows=3)
    second = db.query_one("SELECT hash FROM audit_log WHERE seq = 2")[0]
    audit.anchor_path.write_text(json.dumps({"seq": 2, "hash": second}))
    report = audit.verify()
    assert report.ok and "lags by 1" in str(report)  # crash between commit and anchor write
    audit.anchor_path.unlink()
    assert [p.kind for p in audit.verify().problems] == ["anchor"]
    db.close()


def test_rolled_back_append_leaves_no_row_and_no_anchor_move(tmp_path: Path) -> None:
    db, audit = make_log(tmp_path, rows=2)
    try:
        with db.transaction():
            audit.append("x", "case.committed")
            raise RuntimeError("flow failed after the audit row")
    except RuntimeError:
        pass
    report = audit.verify()
    assert report.ok and report.last_seq == 2 and report.anchor_seq == 2
    db.close()


def test_row_in_a_rolled_back_savepoint_never_reaches_the_anchor(tmp_path: Path) -> None:
    db, audit = make_log(tmp_path, rows=2)
    with db.transaction():
        audit.append("a", "case.committed")
        try:
            with db.transaction():
                audit.append("b", "case.collected")
                raise RuntimeError("inner step failed")
        except RuntimeError:
            pass
    report = audit.verify()
    assert report.ok and report.last_seq == 3 and report.anchor_seq == 3
    db.close()


def test_require_intact_raises_with_the_report(tmp_path: Path) -> None:
    db, audit = make_log(tmp_path, rows=3)
    assert audit.require_intact().ok
    raw(tmp_path, "UPDATE audit_log SET action = 'case.cancelled' WHERE seq = 2")
    with pytest.raises(AuditChainBroken) as err:
        audit.require_intact()
    assert "row 2: altered" in str(err.value)
    assert err.value.report.problems[0].seq == 2
    db.close()
