"""A kill right after the commit: the staff alert and the "receipt owed" mark went to disk with it.

Fault injected from outside: the kiosk process running a real deposit on the simulators is
SIGKILLed right after the case is committed (``deposit.committed``), before the receipt is shown.
Checked after a restart: the case is committed, the "new deposit" alert for it is in the outbox
(it was written in the commit's own transaction), and the recovery told staff that the resident
may not have seen the receipt — once, however often the kiosk restarts.
"""

from __future__ import annotations

import signal
from pathlib import Path

from test_flow_crash import Sims, kiosk, sims  # noqa: F401  (module fixture)

from locker.store import Store
from locker.submissions import CaseState


def outbox_kinds(store: Store, case_code: str) -> list[str]:
    rows = store.db.query("SELECT DISTINCT kind FROM outbox WHERE case_code = ? ORDER BY id", (case_code,))
    return [r["kind"] for r in rows]


def test_kill_right_after_commit_keeps_the_alert_and_tells_staff_about_the_receipt(
    sims: Sims,  # noqa: F811
    tmp_path: Path,
) -> None:
    crashed = kiosk(sims, tmp_path, "deposit", "deposit.committed")
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
    sims.ctl("fingerprint", "lift")
    with Store.open(tmp_path / "data", tmp_path / "keys" / "kiosk.key") as store:
        (case,) = store.submissions.list_cases(CaseState.COMMITTED)
        code = case.case_code
        assert outbox_kinds(store, code) == ["deposit"]  # queued with the commit, before the kill
    for _ in range(2):  # a second restart does not alert again
        recovered = kiosk(sims, tmp_path, "recover")
        assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    with Store.open(tmp_path / "data", tmp_path / "keys" / "kiosk.key") as store:
        assert store.submissions.get_case(code).state is CaseState.COMMITTED
        assert outbox_kinds(store, code) == ["deposit", "receipt_missed"]
        marks = [r["action"] for r in store.audit.rows(code) if r["action"].startswith("case.receipt")]
        assert marks == ["case.receipt_owed", "case.receipt_missed"]
        body = store.db.query_one("SELECT body FROM outbox WHERE kind = 'receipt_missed'")
        assert body is not None and code in body["body"] and "pickup code" in body["body"]


def test_a_receipt_that_was_shown_is_not_reported(sims: Sims, tmp_path: Path) -> None:  # noqa: F811
    done = kiosk(sims, tmp_path, "deposit")
    assert done.returncode == 0, done.stdout + done.stderr
    sims.ctl("fingerprint", "lift")
    recovered = kiosk(sims, tmp_path, "recover")
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    with Store.open(tmp_path / "data", tmp_path / "keys" / "kiosk.key") as store:
        (case,) = store.submissions.list_cases(CaseState.COMMITTED)
        assert outbox_kinds(store, case.case_code) == ["deposit"]
        marks = [r["action"] for r in store.audit.rows(case.case_code) if r["action"].startswith("case.receipt")]
        assert marks == ["case.receipt_owed", "case.receipt_shown"]
