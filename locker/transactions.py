"""The unlock transaction log: every door opening is written down before the lock is pulsed.

Steps (each its own committed SQLite transaction, ``synchronous=FULL``):
``intent`` (before the pulse) → ``pulse_sent`` (the board acknowledged) → ``door_opened`` (the
sensor showed it) → ``door_closed``. Endings that are not the happy path: ``not_sent`` (found
at start-up as a bare intent with the door closed: the pulse never went out, or did nothing),
``jammed`` (pulsed, door never opened), ``refused`` (the board said no), ``settled_closed`` (found
unfinished at start-up and closed by the sensors), ``ambiguous`` (nobody can tell what happened:
staff must look) and ``resolved`` (staff looked).

A crash can fall between any write and the act that follows, so the start-up reconciliation
settles every unfinished row from the door sensors and never pulses again on its own.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from enum import StrEnum

from locker.db import Database


class TxState(StrEnum):
    INTENT = "intent"
    PULSE_SENT = "pulse_sent"
    DOOR_OPENED = "door_opened"
    DOOR_CLOSED = "door_closed"
    SETTLED_CLOSED = "settled_closed"
    NOT_SENT = "not_sent"
    JAMMED = "jammed"
    REFUSED = "refused"
    AMBIGUOUS = "ambiguous"
    RESOLVED = "resolved"

    @property
    def in_progress(self) -> bool:
        """Still waiting for the door (the watcher or the start-up settles these)."""
        return self in (TxState.INTENT, TxState.PULSE_SENT, TxState.DOOR_OPENED)


UNFINISHED = (TxState.INTENT, TxState.PULSE_SENT, TxState.DOOR_OPENED, TxState.AMBIGUOUS)


class Purpose(StrEnum):
    """Why a door is opened; decides what the compartment holds once it closes again."""

    DEPOSIT = "deposit"  # resident puts papers in → HOLDING
    RESULT = "result"  # staff puts a result in for the resident → HOLDING
    COLLECT = "collect"  # staff takes the resident's papers out → FREE
    PICKUP = "pickup"  # resident takes the result out → FREE
    OVERRIDE = "override"  # staff opens any door with a reason → state unchanged

    @property
    def fills(self) -> bool:
        return self in (Purpose.DEPOSIT, Purpose.RESULT)

    @property
    def empties(self) -> bool:
        return self in (Purpose.COLLECT, Purpose.PICKUP)


@dataclass(frozen=True)
class UnlockTx:
    id: int
    compartment_id: str
    board: int
    lock: int
    case_code: str | None
    purpose: Purpose
    actor: str
    reason: str | None
    state: TxState
    created_at: float
    pulse_sent_at: float | None
    door_opened_at: float | None
    door_closed_at: float | None
    finished_at: float | None
    result: str

    @property
    def needs_staff(self) -> bool:
        return self.state is TxState.AMBIGUOUS

    @property
    def papers_moved(self) -> bool | None:
        """True when the door was open (so papers may have gone in or out), None when unknown."""
        if self.state in (TxState.DOOR_CLOSED, TxState.SETTLED_CLOSED, TxState.DOOR_OPENED):
            return True
        if self.state in (TxState.NOT_SENT, TxState.JAMMED, TxState.REFUSED):
            return False
        return None


def _row(r: sqlite3.Row) -> UnlockTx:
    return UnlockTx(
        id=int(r["id"]),
        compartment_id=r["compartment_id"],
        board=int(r["board"]),
        lock=int(r["lock"]),
        case_code=r["case_code"],
        purpose=Purpose(r["purpose"]),
        actor=r["actor"],
        reason=r["reason"],
        state=TxState(r["state"]),
        created_at=r["created_at"],
        pulse_sent_at=r["pulse_sent_at"],
        door_opened_at=r["door_opened_at"],
        door_closed_at=r["door_closed_at"],
        finished_at=r["finished_at"],
        result=r["result"],
    )


_STAMP = {
    TxState.PULSE_SENT: "pulse_sent_at",
    TxState.DOOR_OPENED: "door_opened_at",
    TxState.DOOR_CLOSED: "door_closed_at",
    TxState.SETTLED_CLOSED: "door_closed_at",
}


def insert_intent(
    conn: sqlite3.Connection,
    *,
    compartment_id: str,
    board: int,
    lock: int,
    case_code: str | None,
    purpose: Purpose,
    actor: str,
    reason: str | None,
    now: float,
) -> int:
    cur = conn.execute(
        "INSERT INTO unlock_tx (compartment_id, board, lock, case_code, purpose, actor, reason, state, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 'intent', ?)",
        (compartment_id, board, lock, case_code, purpose.value, actor, reason, now),
    )
    return int(cur.lastrowid or 0)


def advance(
    conn: sqlite3.Connection, tx_id: int, to: TxState, now: float, *, result: str = "", expect: tuple[TxState, ...] = ()
) -> bool:
    """Move one row to ``to`` (only from ``expect`` when given); False when it was not there any more.

    The ``expect`` guard makes a step idempotent: the watcher thread and the caller of ``open``
    may both see a door close, and only the first one writes.
    """
    sets = ["state = ?"]
    params: list[object] = [to.value]
    if to in _STAMP:
        sets.append(f"{_STAMP[to]} = COALESCE({_STAMP[to]}, ?)")
        params.append(now)
    if not to.in_progress and to is not TxState.AMBIGUOUS:
        sets.append("finished_at = ?")
        params.append(now)
    if result:
        sets.append("result = ?")
        params.append(result)
    sql = f"UPDATE unlock_tx SET {', '.join(sets)} WHERE id = ?"
    params.append(tx_id)
    if expect:
        sql += f" AND state IN ({', '.join('?' for _ in expect)})"
        params += [s.value for s in expect]
    return conn.execute(sql, params).rowcount == 1


def get(db: Database, tx_id: int) -> UnlockTx | None:
    r = db.query_one("SELECT * FROM unlock_tx WHERE id = ?", (tx_id,))
    return _row(r) if r is not None else None


def unfinished(db: Database, compartment_id: str | None = None) -> list[UnlockTx]:
    marks = ", ".join("?" for _ in UNFINISHED)
    sql = f"SELECT * FROM unlock_tx WHERE state IN ({marks})"
    params: list[object] = [s.value for s in UNFINISHED]
    if compartment_id is not None:
        sql += " AND compartment_id = ?"
        params.append(compartment_id)
    return [_row(r) for r in db.query(sql + " ORDER BY id", tuple(params))]


def history(db: Database, *, compartment_id: str | None = None, case_code: str | None = None) -> list[UnlockTx]:
    sql, params = "SELECT * FROM unlock_tx WHERE 1", []
    if compartment_id is not None:
        sql += " AND compartment_id = ?"
        params.append(compartment_id)
    if case_code is not None:
        sql += " AND case_code = ?"
        params.append(case_code)
    return [_row(r) for r in db.query(sql + " ORDER BY id", tuple(params))]


def claim_left_open_alert(conn: sqlite3.Connection, tx_id: int, now: float) -> bool:
    """True for the first caller only: the left-open alert goes out once per transaction."""
    cur = conn.execute(
        "UPDATE unlock_tx SET left_open_alerted_at = ? WHERE id = ? AND left_open_alerted_at IS NULL", (now, tx_id)
    )
    return cur.rowcount == 1
