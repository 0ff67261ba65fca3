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


def test_purge_deletes_the_residents_sensor_page_and_its_mapping(rig) -> None:  # noqa: ANN001
    import time as _time

    from flow_support import deposit_to_receipt, press

    from devices.idcard.sample_cards import ZHANG_SAN

    flow = rig.deposit()
    deposit_to_receipt(rig, flow)
    code = flow.view.params["case_code"]
    press(flow, "done")
    rig.fpsim.ctl_lift()
    page = rig.fingerprints.lookup(ZHANG_SAN.id_number)[0]
    assert page in rig.fpsim.ctl_state()["pages"]  # the template sits in the sensor's flash
    rig.store.submissions.mark_collected(code, staff="staff:04****C3")
    job = RetentionJob(rig.store.submissions, days=30, hold_undelivered=False,
                       clock=lambda: _time.time() + 31 * DAY, forget_fingerprint=rig.fingerprints.forget)
    assert job.run().purged_cases == [code]
    assert rig.fingerprints.lookup(ZHANG_SAN.id_number) is None  # the mapping is gone at once
    assert rig.fingerprints.pending_wipes() == [page]
    assert rig.fingerprints.reserve("110105197002030006") != page  # never handed out before the wipe
    assert rig.fingerprints.wipe_pending(rig.sensor) == 1  # the kiosk, idle, owns the sensor
    assert page not in rig.fpsim.ctl_state()["pages"] and rig.fingerprints.pending_wipes() == []
    mapping = (rig.tmp / "data" / "finger_pages.sqlite3").read_bytes()
    assert rig.store.cipher.mac("fingerprint_page", ZHANG_SAN.id_number).encode() not in mapping


def test_a_page_still_needed_by_the_same_residents_other_case_is_kept(rig) -> None:  # noqa: ANN001
    import time as _time

    from flow_support import deposit_to_receipt, press

    from devices.idcard.sample_cards import ZHANG_SAN

    flow = rig.deposit()
    deposit_to_receipt(rig, flow)
    codes = [flow.view.params["case_code"]]
    press(flow, "done")
    # the same resident's second deposit, still waiting for staff
    t = rig.store.submissions.open_draft(service_id="s", required_papers=[],
                                         identity=Identity(ZHANG_SAN.name, ZHANG_SAN.id_number))
    rig.store.submissions.commit_submission(t.case_code, compartment_id="S02", actor="resident")
    rig.store.submissions.mark_collected(codes[0], staff="staff:04****C3")
    job = RetentionJob(rig.store.submissions, days=30, hold_undelivered=False, uncollected_days=0,
                       clock=lambda: _time.time() + 31 * DAY, forget_fingerprint=rig.fingerprints.forget)
    assert job.run().purged_cases == [codes[0]]
    assert rig.fingerprints.lookup(ZHANG_SAN.id_number) is not None  # case 2 still needs it


def test_a_deposit_never_collected_is_warned_about_then_purged(tmp_path: Path) -> None:
    from locker.outbox import Outbox

    clock = Clock()
    with open_store(tmp_path, clock) as store:
        t = store.submissions.open_draft(service_id="s", required_papers=["身份证"],
                                         identity=Identity("张三丰", ID_NUMBER))
        store.submissions.add_scan(t.case_code, "身份证", 1, b"%PDF page")
        store.submissions.commit_submission(t.case_code, compartment_id="A01", actor="resident")
        outbox = Outbox(store.db, ["json://127.0.0.1:9/alerts"], clock=clock)
        job = RetentionJob(store.submissions, days=30, hold_undelivered=False, uncollected_days=90, warn_days=7,
                           alerts=outbox)
        clock.now += 82 * DAY
        assert job.run().purged_cases == [] and not outbox.items()
        clock.now += 1.5 * DAY
        assert job.run().purged_cases == []
        job.run()  # the next day's run does not warn twice
        warned = [i for i in outbox.items() if i.kind == "case_uncollected"]
        assert len(warned) == 1
        body = store.db.query_one("SELECT body FROM outbox WHERE kind = 'case_uncollected'")["body"]
        assert t.case_code in body and "A01" in body and ("in 6 day" in body or "in 7 day" in body), body
        clock.now += 7 * DAY
        assert job.run().purged_cases == [t.case_code]
        row = store.db.query_one("SELECT identity_enc, state FROM cases")
        assert row["identity_enc"] is None and row["state"] == "committed"
        assert not list((tmp_path / "data" / "scans").glob("*/*.bin"))
