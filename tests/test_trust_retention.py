"""Issue 12, data kept past its use: a purge leaves no identity in the -wal or the database bytes,
cancelled drafts go within a day, and a scan row pointing outside scans/ deletes nothing there."""

from __future__ import annotations

from pathlib import Path

from locker.retention import DAY, RetentionJob
from locker.store import DB_NAME, Store
from locker.submissions import Identity

ID_NUMBER = "44010119900101123X"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def open_store(tmp: Path, clock: Clock) -> Store:
    return Store.open(tmp / "data", tmp / "keys/k.key", create_key=True, clock=clock)


def raw_blobs(store: Store) -> list[bytes]:
    row = store.db.query_one("SELECT identity_enc, photo_enc FROM cases")
    return [bytes(b) for b in row if b is not None] if row else []


def test_after_a_purge_the_ciphertext_is_in_neither_the_wal_nor_the_database_file(tmp_path: Path) -> None:
    clock = Clock()
    store = open_store(tmp_path, clock)
    with store:
        t = store.submissions.open_draft(service_id="s", required_papers=["身份证"],
                                         identity=Identity("张三丰", ID_NUMBER), card_photo=b"\x89PNG photo" * 50)
        store.submissions.add_scan(t.case_code, "身份证", 1, b"%PDF page")
        store.submissions.commit_submission(t.case_code, compartment_id="A01", actor="resident")
        blobs = raw_blobs(store)
        store.submissions.mark_collected(t.case_code, staff="staff:04****C3")
        clock.now += 31 * DAY
        files = [tmp_path / "data" / DB_NAME, tmp_path / "data" / (DB_NAME + "-wal")]
        assert any(b[20:60] in f.read_bytes() for b in blobs for f in files if f.exists())  # there before
        result = RetentionJob(store.submissions, days=30, hold_undelivered=False).run()
        assert result.purged_cases == [t.case_code]
        for f in files:
            data = f.read_bytes() if f.exists() else b""
            for b in blobs:
                assert b[20:60] not in data, f"purged ciphertext still in {f.name}"


def test_cancelled_drafts_are_purged_within_a_day_even_with_long_retention(tmp_path: Path) -> None:
    clock = Clock()
    with open_store(tmp_path, clock) as store:
        t = store.submissions.open_draft(service_id="s", required_papers=["身份证"],
                                         identity=Identity("张三丰", ID_NUMBER))
        store.submissions.cancel(t.case_code, actor="resident", reason="walked away")
        job = RetentionJob(store.submissions, days=30, hold_undelivered=False)
        clock.now += 0.5 * DAY
        assert job.run().purged_cases == []
        clock.now += 0.6 * DAY
        assert job.run().purged_cases == [t.case_code]
        assert store.db.query_one("SELECT identity_enc FROM cases")["identity_enc"] is None


def test_a_scan_row_edited_to_leave_scans_deletes_nothing_outside(tmp_path: Path) -> None:
    clock = Clock()
    victim = tmp_path / "precious.txt"
    victim.write_text("not the kiosk's to delete")
    with open_store(tmp_path, clock) as store:
        t = store.submissions.open_draft(service_id="s", required_papers=["身份证"],
                                         identity=Identity("张三丰", ID_NUMBER))
        store.submissions.add_scan(t.case_code, "身份证", 1, b"%PDF page")
        store.submissions.commit_submission(t.case_code, compartment_id="A01", actor="resident")
        store.db.execute("UPDATE scan_files SET rel_path = '../../precious.txt'")
        store.submissions.mark_collected(t.case_code, staff="staff:04****C3")
        clock.now += 31 * DAY
        RetentionJob(store.submissions, days=30, hold_undelivered=False).run()
    assert victim.read_text() == "not the kiosk's to delete"
