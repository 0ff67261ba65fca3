"""After a crash or power cut: settle the flows' half-done cases from what the locker service found.

Run once at start-up, after ``LockerService.start()`` (which settled the unlock transactions from
the door sensors and pulsed nothing). The rule is Open-Locker's: never repeat an act, decide from
what is durable.

- A draft whose deposit door was seen open: the papers may be inside, so the case is committed
  into that compartment (flagged) and staff are told. Nothing accepted is lost.
- A draft whose door was ambiguous: left as a draft, staff are told (they look at the door).
- Any other draft is a resident who left (or a crash before the door): cancelled, its
  reservation given back.
- A committed case whose compartment was opened for collection: marked collected on the staff
  member's behalf (the door opened for them), flagged for confirmation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from devices.errors import KioskError
from flows.ports import AlertPort
from locker.submissions import CaseState, SubmissionStore

log = logging.getLogger(__name__)

AUDIT_RECEIPT_MISSED = "case.receipt_missed"


@dataclass
class RecoveryReport:
    committed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    to_staff: list[str] = field(default_factory=list)
    collected: list[str] = field(default_factory=list)
    receipts_missed: list[str] = field(default_factory=list)


def recover_flows(lockers: Any, submissions: SubmissionStore, alerts: AlertPort | None = None) -> RecoveryReport:
    report = RecoveryReport()
    for case in submissions.list_cases(CaseState.DRAFT):
        code = case.case_code
        txs = [t for t in lockers.history(case_code=code) if t.purpose.value == "deposit"]
        opened = [t for t in txs if t.papers_moved]
        unclear = [t for t in txs if t.papers_moved is None]
        try:
            if opened:
                submissions.commit_submission(code, compartment_id=opened[-1].compartment_id, actor="recovery")
                submissions.audit.append(
                    "recovery", "case.committed_unattended", case_code=code, detail={"why": "restart after door opened"}
                )
                report.committed.append(code)
                _alert(
                    alerts,
                    "deposit_recovered",
                    code,
                    f"Case {code} committed after a restart; check {opened[-1].compartment_id}.",
                )
            elif unclear:
                report.to_staff.append(code)
                _alert(alerts, "deposit_unclear", code, f"Case {code}: unlock outcome unknown after a restart.")
            else:
                submissions.cancel(code, actor="recovery", reason="resident session lost in a restart")
                report.cancelled.append(code)
                for c in lockers.compartments():
                    if c.case_code == code and c.state.value == "reserved":
                        lockers.release(c.id, actor="recovery")
        except KioskError as exc:
            log.error("recovery of draft %s failed: %s", code, exc)
            report.to_staff.append(code)
            _alert(alerts, "deposit_unclear", code, f"Case {code} could not be settled after a restart: {exc.code}")
    for case in submissions.list_cases(CaseState.COMMITTED):
        collects = [t for t in lockers.history(case_code=case.case_code) if t.purpose.value == "collect"]
        if collects and collects[-1].papers_moved:
            staff = collects[-1].actor
            submissions.advance(
                case.case_code, CaseState.COLLECTED, actor=staff, detail={"confirmed": False, "by": "recovery"}
            )
            report.collected.append(case.case_code)
            _alert(
                alerts,
                "collect_unconfirmed",
                case.case_code,
                f"Case {case.case_code}: collection by {staff} not confirmed before a restart.",
            )
    report.receipts_missed = _receipts_missed(submissions, alerts)
    log.info(
        "flow recovery: %d committed, %d cancelled, %d to staff, %d collected, %d receipts not shown",
        len(report.committed),
        len(report.cancelled),
        len(report.to_staff),
        len(report.collected),
        len(report.receipts_missed),
    )
    return report


def _receipts_missed(submissions: SubmissionStore, alerts: AlertPort | None) -> list[str]:
    """Finish what the receipt step would have done for cases committed just before a kill.

    The deposit writes "receipt owed" with the commit and "receipt shown" once the receipt is on
    screen. Owed but never shown: the resident left without the pickup code (it is stored only as a
    MAC, so no receipt can be reprinted). Staff are told which case, so they can reach the resident,
    who can still fetch the result with the ID card and face; the mark is written once.
    """
    from flows.deposit import AUDIT_RECEIPT_OWED, AUDIT_RECEIPT_SHOWN

    rows = submissions.db.query(
        "SELECT case_code FROM audit_log WHERE action = ? AND case_code NOT IN"
        " (SELECT case_code FROM audit_log WHERE action IN (?, ?) AND case_code IS NOT NULL)"
        " GROUP BY case_code ORDER BY MIN(seq)",
        (AUDIT_RECEIPT_OWED, AUDIT_RECEIPT_SHOWN, AUDIT_RECEIPT_MISSED),
    )
    missed = []
    for r in rows:
        code = r["case_code"]
        with submissions.db.transaction():
            submissions.audit.append("recovery", AUDIT_RECEIPT_MISSED, case_code=code)
            _alert(
                alerts,
                "receipt_missed",
                code,
                f"Case {code} was committed just before a restart; the resident may not have seen the "
                "receipt or the pickup code. The papers are in the compartment and staff are alerted; "
                "the result can be fetched with the ID card and face.",
            )
        missed.append(code)
    return missed


def _alert(alerts: AlertPort | None, kind: str, case_code: str, body: str) -> None:
    if alerts is None:
        return
    try:
        alerts.enqueue(kind, "重启后待核查 Check after restart", body, case_code)
    except KioskError as exc:
        log.error("alert %s for %s not queued: %s", kind, case_code, exc)
