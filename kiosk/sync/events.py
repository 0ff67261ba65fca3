"""Later events of a case, read from the audit log after a cursor.

Why the audit log: every state change (collected, result placed, door jammed, …) already writes
its audit row in the same transaction as the change, so the log *is* a durable, ordered outbox of
events; a second queue would only be a second place to forget one. The cursor (the last audit seq
the back office has answered for) lives in ``sync_state``. Each event's id is
``<kiosk_id>-<audit seq>``, so a resend after a lost answer changes nothing at the back office.

Order matters to a clerk (a case cannot be "collected" before it exists): the batch stops at the
first event of a case that is still a draft or whose package is not yet acknowledged, and goes on
once it is. A case whose package was *refused* does not hold the others back; its events go and
the back office's refusal of them is kept with the rest (``events_refused``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import contract
from locker.db import Database

# audit action → the contract's event kind
KINDS = {
    "case.collected": contract.EventKind.COLLECTED,
    "case.result_ready": contract.EventKind.RESULT_PLACED,
    "case.result_collected": contract.EventKind.RESULT_COLLECTED,
    "case.cancelled": contract.EventKind.CANCELLED,
    "locker.jammed": contract.EventKind.DOOR_JAMMED,
    "locker.forced_open": contract.EventKind.FORCED_OPEN,
    "kiosk.help_requested": contract.EventKind.HELP_REQUESTED,  # kiosk.help_desk.AUDIT_ACTION
}
DOOR_KINDS = {contract.EventKind.DOOR_JAMMED, contract.EventKind.FORCED_OPEN}
SCAN_ROWS = 1000


@dataclass(frozen=True)
class EventScan:
    events: list[contract.KioskEvent]
    last_seq: int  # the cursor once these events are answered for
    held_by: str | None  # the case whose delivery holds the rest back, if any


def next_events(db: Database, kiosk_id: str, cursor: int,
                max_events: int = contract.MAX_EVENTS_PER_BATCH) -> EventScan:
    # The top first: every row up to it is committed (seqs are given under the write lock), so the
    # cursor may pass the rows in between that are not events without skipping one still being written.
    top_row = db.query_one("SELECT MAX(seq) AS s FROM audit_log")
    top = int(top_row["s"] or 0) if top_row else 0
    rows = db.query("SELECT seq, at, actor, action, case_code, detail FROM audit_log WHERE seq > ? AND seq <= ?"
                    f" AND action IN ({', '.join('?' * len(KINDS))}) ORDER BY seq LIMIT ?",
                    (cursor, top, *KINDS, SCAN_ROWS))
    events: list[contract.KioskEvent] = []
    last = cursor
    for r in rows:
        kind = KINDS[r["action"]]
        code = r["case_code"]
        if code is not None:
            case = db.query_one("SELECT c.state, d.acknowledged_at, d.refused_at, d.case_code AS queued FROM cases c"
                                " LEFT JOIN deliveries d ON d.case_code = c.case_code WHERE c.case_code = ?", (code,))
            if case is not None and case["state"] == "draft":
                return EventScan(events, last, code)  # may still be committed: wait
            if case is not None and case["queued"] is not None:
                if case["acknowledged_at"] is None and case["refused_at"] is None:
                    return EventScan(events, last, code)  # the back office must hold the case first
            elif kind in DOOR_KINDS:
                code = None  # a door event of a case that never reached the back office (a cancelled draft)
            else:
                last = r["seq"]  # e.g. the cancellation of a draft: the back office never knew the case
                continue
        detail = {k: _text(v) for k, v in json.loads(r["detail"]).items()
                  if k in ("compartment", "reason", "result", "what", "from",
                           "flow", "screen", "step", "visit_seconds", "step_seconds", "repeat")}
        compartment = detail.pop("compartment", None) or None
        events.append(contract.KioskEvent(
            event_id=f"{kiosk_id}-{r['seq']}", case_code=code, kind=kind.value, at=float(r["at"]),
            actor=str(r["actor"])[:60], compartment_id=compartment[:20] if compartment else None, detail=detail))
        last = r["seq"]
        if len(events) >= max_events:
            break
    else:
        if len(rows) < SCAN_ROWS:  # nothing further of interest up to the top
            last = max(last, top)
    return EventScan(events, last, None)


def _text(value: object) -> str:
    return (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))[:500]
