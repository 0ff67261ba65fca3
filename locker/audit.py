"""Hash-chained audit log of every state change (who, what, when).

Row ``seq`` stores ``hash = SHA-256(prev_hash || canonical(seq, at, actor, action, case_code,
detail))`` where ``prev_hash`` is row ``seq-1``'s hash (64 zeros for row 1). Changing a row breaks
its own hash; deleting a row leaves a gap in ``seq``; cutting the tail leaves the chain valid, so
the last (seq, hash) is also kept in an anchor file beside the database, rewritten atomically
after each committing transaction. The anchor may lag the database by one transaction after a
crash (commit done, anchor not yet written): that is reported as a note, not a failure.
Appending reads the anchor too and numbers the new row after it, so a truncated tail stays a
visible gap even after the kiosk writes new rows.

Keyed chain (issue 12): in a store opened with its data key, ``hash`` is HMAC-SHA256 under a key
derived from the data key instead of a plain SHA-256, and the anchor carries a MAC of its own.
Someone who can write the data folder but lacks the key can no longer edit a row and re-chain,
delete and renumber, or cut the tail and rewrite the anchor: none of them can compute the MACs.
A chain from before keyed hashes is re-chained once, after it verified as plain SHA-256
(``locker.keys``); a chain that was already broken stays plain so it keeps showing as broken.

Details must hold no personal data: the log outlives the retention purge.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from locker.db import Database
from locker.errors import AuditChainBroken
from locker.fsutil import atomic_write

log = logging.getLogger(__name__)

GENESIS = "0" * 64


def canonical(seq: int, at: float, actor: str, action: str, case_code: str | None, detail: str) -> bytes:
    body = {"seq": seq, "at": repr(float(at)), "actor": actor, "action": action, "case": case_code, "detail": detail}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def row_hash(
    prev_hash: str,
    seq: int,
    at: float,
    actor: str,
    action: str,
    case_code: str | None,
    detail: str,
    key: bytes | None = None,
) -> str:
    """SHA-256 of the row after the previous hash; HMAC-SHA256 under ``key`` in a keyed chain."""
    body = prev_hash.encode() + canonical(seq, at, actor, action, case_code, detail)
    if key is None:
        return hashlib.sha256(body).hexdigest()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def anchor_mac(key: bytes, seq: int, h: str) -> str:
    return hmac.new(key, f"anchor\x00{seq}\x00{h}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AuditProblem:
    seq: int
    kind: str  # "altered", "deleted", "truncated", "anchor", "relinked"
    detail: str

    def __str__(self) -> str:
        return f"row {self.seq}: {self.kind}: {self.detail}"


@dataclass
class AuditReport:
    rows: int = 0
    last_seq: int = 0
    anchor_seq: int | None = None
    problems: list[AuditProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        head = (
            f"audit chain {'OK' if self.ok else 'BROKEN'}: {self.rows} rows, last seq {self.last_seq}, "
            f"anchor seq {self.anchor_seq if self.anchor_seq is not None else 'none'}"
        )
        lines = [head] + [f"  PROBLEM {p}" for p in self.problems] + [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


class AuditLog:
    """Appends chained rows inside the caller's transaction and keeps the anchor file current."""

    def __init__(
        self,
        db: Database,
        *,
        anchor_path: str | Path | None = None,
        clock: Callable[[], float] = time.time,
        key: bytes | None = None,
    ) -> None:
        self.db = db
        self.anchor_path = Path(anchor_path) if anchor_path else db.path.with_name(db.path.name + ".audit-anchor")
        self.clock = clock
        self.key = key  # the chain's HMAC key (None: a plain SHA-256 chain, e.g. a store without a key)

    def append(
        self, actor: str, action: str, *, case_code: str | None = None, detail: dict[str, Any] | None = None
    ) -> int:
        """Add one row (joins an open transaction, or makes its own); returns its seq."""
        text = json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        with self.db.transaction() as conn:
            last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            last_seq, prev = (last["seq"], last["hash"]) if last else (0, GENESIS)
            anchor = read_anchor(self.anchor_path)
            if anchor and anchor[0] > last_seq:
                log.error(
                    "audit log ends at row %d but the anchor names row %d: rows were removed", last_seq, anchor[0]
                )
            seq = max(last_seq, anchor[0] if anchor else 0) + 1
            at = self.clock()
            h = row_hash(prev, seq, at, actor, action, case_code, text, self.key)
            conn.execute(
                "INSERT INTO audit_log (seq, at, actor, action, case_code, detail, prev_hash, hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, at, actor, action, case_code, text, prev, h),
            )
            self.db.after_commit(self._refresh_anchor, key=("audit-anchor", str(self.anchor_path)))
        return seq

    def _refresh_anchor(self) -> None:
        # Read back what was committed rather than what was appended: a row appended inside a
        # savepoint that was rolled back must never reach the anchor.
        last = self.db.query_one("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        if last is not None:
            write_anchor(self.anchor_path, last["seq"], last["hash"], key=self.key)

    def rows(self, case_code: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT seq, at, actor, action, case_code, detail FROM audit_log"
        params: tuple[Any, ...] = ()
        if case_code is not None:
            sql += " WHERE case_code = ?"
            params = (case_code,)
        return [dict(r) | {"detail": json.loads(r["detail"])} for r in self.db.query(sql + " ORDER BY seq", params)]

    def verify(self) -> AuditReport:
        report = verify_chain(self.db, anchor_path=self.anchor_path, key=self.key)
        if self.key is not None and report.rows == 0 and _key_recorded(self.db):
            # A keyed store wrote "key.recorded" as its first row: an empty log was emptied.
            report.problems.append(AuditProblem(1, "deleted", "every row is gone (the store's first row is missing)"))
        for case_code in _cases_without_rows(self.db):
            # Every case is opened with a "case.draft" row: a case the log never mentions lost its rows.
            report.problems.append(
                AuditProblem(report.last_seq, "deleted", f"case {case_code} exists but has no audit rows")
            )
        return report

    def require_intact(self) -> AuditReport:
        """Verify and raise ``AuditChainBroken`` (carrying the report) when anything is wrong."""
        report = self.verify()
        if not report.ok:
            raise AuditChainBroken(f"audit log of {self.db.path} does not verify:\n{report}", report=report)
        return report


def _cases_without_rows(db: Database, limit: int = 20) -> list[str]:
    try:
        rows = db.query(
            "SELECT case_code FROM cases c WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.case_code = c.case_code)"
            " ORDER BY id LIMIT ?",
            (limit,),
        )
    except Exception:  # a database without cases (unit tests of the log alone)
        return []
    return [r["case_code"] for r in rows]


def _key_recorded(db: Database) -> bool:
    try:
        return db.query_one("SELECT 1 FROM key_meta WHERE id = 1") is not None
    except Exception:  # no key_meta table: a store without key ids
        return False


def write_anchor(path: Path, seq: int, h: str, *, key: bytes | None = None, force: bool = False) -> None:
    # Called in commit order under the db lock; never move the anchor backwards (unless re-chained).
    current = read_anchor(path)
    if current and current[0] >= seq and not force:
        return
    body: dict[str, Any] = {"seq": seq, "hash": h}
    if key is not None:
        body["mac"] = anchor_mac(key, seq, h)
    atomic_write(path, json.dumps(body).encode(), mode=0o644)


def read_anchor_mac(path: Path) -> str | None:
    try:
        return str(json.loads(path.read_text()).get("mac") or "") or None
    except (OSError, ValueError, AttributeError):
        return None


def read_anchor(path: Path) -> tuple[int, str] | None:
    try:
        data = json.loads(path.read_text())
        return int(data["seq"]), str(data["hash"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return (-1, "")  # unreadable: verify reports it


def verify_chain(db: Database, *, anchor_path: str | Path | None = None, key: bytes | None = None) -> AuditReport:
    """Walk the whole chain; every problem is tied to the row where it shows."""
    anchor_file = Path(anchor_path) if anchor_path else db.path.with_name(db.path.name + ".audit-anchor")
    report = AuditReport()
    expected_seq, prev = 1, GENESIS
    hashes: dict[int, str] = {}
    for r in db.query("SELECT * FROM audit_log ORDER BY seq"):
        seq = r["seq"]
        report.rows += 1
        if seq > expected_seq:
            gap = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}..{seq - 1}"
            report.problems.append(AuditProblem(expected_seq, "deleted", f"row(s) {gap} missing (sequence gap)"))
        elif r["prev_hash"] != prev:
            report.problems.append(AuditProblem(seq, "relinked", "prev_hash does not match the row before"))
        recomputed = row_hash(r["prev_hash"], seq, r["at"], r["actor"], r["action"], r["case_code"], r["detail"], key)
        if recomputed != r["hash"]:
            report.problems.append(
                AuditProblem(
                    seq, "altered", f"content does not match its hash (action {r['action']!r}, case {r['case_code']})"
                )
            )
        hashes[seq] = r["hash"]
        prev = r["hash"]  # continue from the stored hash so one bad row is reported once
        expected_seq = seq + 1
    report.last_seq = expected_seq - 1
    anchor = read_anchor(anchor_file)
    if anchor is None:
        if report.rows:
            report.problems.append(AuditProblem(report.last_seq, "anchor", f"anchor file {anchor_file} is missing"))
        return report
    a_seq, a_hash = anchor
    if a_seq < 0:
        report.problems.append(AuditProblem(report.last_seq, "anchor", f"anchor file {anchor_file} is unreadable"))
        return report
    report.anchor_seq = a_seq
    if key is not None and not hmac.compare_digest(read_anchor_mac(anchor_file) or "", anchor_mac(key, a_seq, a_hash)):
        report.problems.append(
            AuditProblem(a_seq, "anchor", f"anchor file {anchor_file} does not carry the kiosk's MAC (rewritten)")
        )
        return report
    if a_seq > report.last_seq:
        gap = f"{report.last_seq + 1}" if a_seq == report.last_seq + 1 else f"{report.last_seq + 1}..{a_seq}"
        report.problems.append(
            AuditProblem(
                report.last_seq + 1, "truncated", f"row(s) {gap} missing at the end (the anchor names row {a_seq})"
            )
        )
    elif a_seq and hashes.get(a_seq) != a_hash:
        report.problems.append(AuditProblem(a_seq, "anchor", "row's hash differs from the anchor's (row rewritten)"))
    elif a_seq < report.last_seq:
        report.notes.append(f"anchor lags by {report.last_seq - a_seq} row(s) (crash between commit and anchor write?)")
    return report


def rechain(db: Database, conn: Any, key: bytes) -> None:
    """Recompute every row's prev_hash and hash under ``key`` inside the caller's transaction.

    Only for a chain that was verified just before (adopting keyed hashes, or a key rotation);
    the anchor is rewritten once the transaction commits.
    """
    prev = GENESIS
    last: tuple[int, str] | None = None
    for r in conn.execute("SELECT * FROM audit_log ORDER BY seq").fetchall():
        h = row_hash(prev, r["seq"], r["at"], r["actor"], r["action"], r["case_code"], r["detail"], key)
        conn.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, r["seq"]))
        prev, last = h, (r["seq"], h)
    anchor = db.path.with_name(db.path.name + ".audit-anchor")
    if last is not None:
        seq, h = last
        db.after_commit(lambda: write_anchor(anchor, seq, h, key=key, force=True), key=("audit-anchor", str(anchor)))


def check_at_start(audit: AuditLog, alerts: Any | None) -> AuditReport:
    """Verify the chain as the kiosk starts; a broken one is logged and raises a staff alert.

    The kiosk still starts (residents' deposits must not stop because someone edited the log),
    but staff hear about it at once instead of at the next `kiosk audit verify`.
    """
    report = audit.verify()
    if report.ok:
        return report
    log.error("audit log does not verify at start:\n%s", report)
    if alerts is not None:
        try:
            alerts.enqueue("audit_chain_broken", "审计日志被改动 Audit log tampered", str(report))
        except Exception as exc:
            log.error("audit alert not queued: %s", exc)
    return report
