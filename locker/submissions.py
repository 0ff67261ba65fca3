"""Cases (submissions): from the resident's draft to the staff's "closed", durable at every step.

``commit_submission`` is the promise point of the kiosk: when it returns, the case, its papers'
scan records and the audit row are committed in one SQLite transaction with ``synchronous=FULL``
(the WAL is fsynced) and the scan files were fsynced before that. Nothing accepted is lost.

Personal data (identity, card photo, fingerprint template, scans) is stored only encrypted, bound
to the case code and field; the table also keeps a masked ID number and masked name so staff
screens and logs can tell cases apart without decrypting anything.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from devices.privacy import mask_id_number, mask_name
from locker.audit import AuditLog
from locker.crypto import Cipher
from locker.db import Database
from locker.errors import CaseNotFound, IncompleteSubmission, InvalidTransition, StoreError
from locker.scan_files import ScanProblem, ScanRef, ScanStore

log = logging.getLogger(__name__)

# 32 symbols: no 0/O, no 1/I — readable over the phone and from a thermal receipt.
CASE_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CASE_CODE_LENGTH = 8
PICKUP_CODE_DIGITS = 6


def normalise_code(case_code: str) -> str:
    """Codes are typed by staff and read from receipts: ignore case and surrounding blanks."""
    return case_code.strip().upper()


class CaseState(StrEnum):
    DRAFT = "draft"
    COMMITTED = "committed"
    COLLECTED = "collected"  # staff took the papers out of the compartment
    PROCESSING = "processing"
    RESULT_READY = "result_ready"  # result placed in a compartment for the resident
    RESULT_COLLECTED = "result_collected"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class PaperStatus(StrEnum):
    SCANNED = "scanned"
    DEFERRED = "deferred"  # 容缺: accepted now, the paper is handed in later


TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    CaseState.DRAFT: frozenset({CaseState.COMMITTED, CaseState.CANCELLED}),
    CaseState.COMMITTED: frozenset({CaseState.COLLECTED, CaseState.CANCELLED}),
    CaseState.COLLECTED: frozenset({CaseState.PROCESSING, CaseState.CLOSED, CaseState.CANCELLED}),
    CaseState.PROCESSING: frozenset({CaseState.RESULT_READY, CaseState.CLOSED}),
    CaseState.RESULT_READY: frozenset({CaseState.RESULT_COLLECTED}),
    CaseState.RESULT_COLLECTED: frozenset({CaseState.CLOSED}),
    CaseState.CLOSED: frozenset(),
    CaseState.CANCELLED: frozenset(),
}

_TIME_COLUMN = {
    CaseState.COMMITTED: "committed_at",
    CaseState.COLLECTED: "collected_at",
    CaseState.PROCESSING: "processing_at",
    CaseState.RESULT_READY: "result_ready_at",
    CaseState.RESULT_COLLECTED: "result_collected_at",
    CaseState.CLOSED: "closed_at",
    CaseState.CANCELLED: "cancelled_at",
}


@dataclass(frozen=True)
class Identity:
    """What the ID card said. ``extra`` holds the other card fields (sex, nation, address…)."""

    name: str
    id_number: str
    extra: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never leak the number into a traceback or log
        return f"Identity(name={mask_name(self.name)!r}, id_number={mask_id_number(self.id_number)!r})"


@dataclass(frozen=True)
class DraftTicket:
    """Returned once by ``open_draft``: the pickup code is not stored in clear anywhere."""

    case_code: str
    pickup_code: str


@dataclass(frozen=True)
class Case:
    case_code: str
    service_id: str
    state: CaseState
    compartment_id: str | None
    id_masked: str | None
    name_masked: str | None
    required_papers: tuple[str, ...]
    papers: dict[str, PaperStatus]
    created_at: float
    committed_at: float | None
    collected_at: float | None
    result_ready_at: float | None
    closed_at: float | None
    cancelled_at: float | None
    purged: bool

    @property
    def deferred_papers(self) -> tuple[str, ...]:
        return tuple(p for p, s in self.papers.items() if s is PaperStatus.DEFERRED)


class SubmissionStore:
    def __init__(
        self, db: Database, cipher: Cipher, scans: ScanStore, audit: AuditLog, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.scans = scans
        self.audit = audit
        self.clock = clock

    # -- resident side ---------------------------------------------------------------------------
    def open_draft(
        self,
        *,
        service_id: str,
        required_papers: Sequence[str],
        identity: Identity,
        card_photo: bytes | None = None,
        fingerprint: bytes | None = None,
        actor: str = "resident",
        checks: dict[str, Any] | None = None,
    ) -> DraftTicket:
        now = self.clock()
        with self.db.transaction() as conn:
            code = self._new_case_code(conn)
            pickup = self._new_pickup_code(conn)
            ident = json.dumps(
                {"name": identity.name, "id_number": identity.id_number, "extra": identity.extra}, ensure_ascii=False
            ).encode()
            conn.execute(
                "INSERT INTO cases (case_code, pickup_mac, service_id, required_papers, state, identity_enc,"
                " photo_enc, fingerprint_enc, id_masked, name_masked, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, 'draft', ?, ?, ?, ?, ?, ?, ?)",
                (
                    code,
                    self.cipher.mac("pickup", pickup),
                    service_id,
                    json.dumps(list(required_papers)),
                    self._enc(ident, code, "identity"),
                    self._enc(card_photo, code, "card_photo"),
                    self._enc(fingerprint, code, "fingerprint"),
                    mask_id_number(identity.id_number),
                    mask_name(identity.name),
                    now,
                    now,
                ),
            )
            self.audit.append(
                actor,
                "case.draft",
                case_code=code,
                # checks: the face check's outcome (distance, frames judged), never biometric data
                detail={"service_id": service_id} | ({"checks": checks} if checks else {}),
            )
        log.info("case %s opened for %s (service %s)", code, mask_id_number(identity.id_number), service_id)
        return DraftTicket(code, pickup)

    def add_scan(self, case_code: str, paper_id: str, page: int, data: bytes, *, actor: str = "resident") -> ScanRef:
        """Encrypt and write one page, then record it. Re-scanning a page replaces it."""
        case_code = normalise_code(case_code)
        case_id, case = self._load(case_code)
        self._require_state(case, CaseState.DRAFT, "add a scan")
        if paper_id not in case.required_papers:
            raise StoreError(f"paper {paper_id!r} is not required by service {case.service_id!r}")
        ref = self.scans.write(case_code, paper_id, page, data)  # durable before it is referenced
        now = self.clock()
        with self.db.transaction() as conn:
            self._require_state(self._load(case_code)[1], CaseState.DRAFT, "add a scan")  # still a draft?
            conn.execute(
                "INSERT INTO scan_files (case_id, paper_id, page, rel_path, sha256, size, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (case_id, paper_id, page) DO UPDATE SET"
                " rel_path = excluded.rel_path, sha256 = excluded.sha256, size = excluded.size,"
                " created_at = excluded.created_at",
                (case_id, paper_id, page, ref.rel_path, ref.sha256, ref.size, now),
            )
            self._set_paper(conn, case_id, paper_id, PaperStatus.SCANNED, now)
            self.audit.append(
                actor,
                "case.scan_added",
                case_code=case_code,
                detail={"paper": paper_id, "page": page, "sha256": ref.sha256},
            )
        return ref

    def defer_paper(self, case_code: str, paper_id: str, *, actor: str = "resident") -> None:
        """Mark a paper 容缺: the case may be committed without it."""
        case_code = normalise_code(case_code)
        case_id, case = self._load(case_code)
        self._require_state(case, CaseState.DRAFT, "defer a paper")
        if paper_id not in case.required_papers:
            raise StoreError(f"paper {paper_id!r} is not required by service {case.service_id!r}")
        now = self.clock()
        with self.db.transaction() as conn:
            self._set_paper(conn, case_id, paper_id, PaperStatus.DEFERRED, now)
            self.audit.append(actor, "case.paper_deferred", case_code=case_code, detail={"paper": paper_id})

    def commit_submission(self, case_code: str, *, compartment_id: str, actor: str = "resident") -> Case:
        """The durable point: after this returns the case is committed on disk."""
        case_code = normalise_code(case_code)
        with self.db.transaction() as conn:
            case_id, case = self._load(case_code)
            self._require_state(case, CaseState.DRAFT, "commit")
            missing = [p for p in case.required_papers if p not in case.papers]
            if missing:
                raise IncompleteSubmission(
                    f"case {case_code} lacks papers {', '.join(missing)} (neither scanned nor 容缺)"
                )
            now = self.clock()
            conn.execute(
                "UPDATE cases SET state = 'committed', compartment_id = ?, committed_at = ?, updated_at = ?"
                " WHERE id = ?",
                (compartment_id, now, now, case_id),
            )
            self.audit.append(
                actor,
                "case.committed",
                case_code=case_code,
                detail={"compartment": compartment_id, "deferred": list(case.deferred_papers)},
            )
            # The back-office delivery is queued in the commit's own transaction (kiosk/sync).
            conn.execute("INSERT INTO deliveries (case_code, created_at, next_attempt_at) VALUES (?, ?, ?)"
                         " ON CONFLICT (case_code) DO NOTHING", (case_code, now, now))
        log.info("case %s committed (%s) in compartment %s", case_code, case.id_masked, compartment_id)
        return self.get_case(case_code)

    # -- any side --------------------------------------------------------------------------------
    def advance(
        self,
        case_code: str,
        to: CaseState,
        *,
        actor: str,
        compartment_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Case:
        """Move a case along ``TRANSITIONS`` (``compartment_id`` e.g. for the result's compartment)."""
        case_code = normalise_code(case_code)
        to = CaseState(to)
        with self.db.transaction() as conn:
            case_id, case = self._load(case_code)
            if to not in TRANSITIONS[case.state]:
                raise InvalidTransition(f"case {case_code} cannot go from {case.state} to {to}")
            now = self.clock()
            conn.execute(
                f"UPDATE cases SET state = ?, {_TIME_COLUMN[to]} = ?, updated_at = ?,"
                " compartment_id = COALESCE(?, compartment_id) WHERE id = ?",
                (to.value, now, now, compartment_id, case_id),
            )
            self.audit.append(
                actor,
                f"case.{to.value}",
                case_code=case_code,
                detail={"from": case.state.value, "compartment": compartment_id} | (detail or {}),
            )
        log.info("case %s: %s -> %s by %s", case_code, case.state, to, actor)
        return self.get_case(case_code)

    def mark_collected(self, case_code: str, *, staff: str) -> Case:
        return self.advance(case_code, CaseState.COLLECTED, actor=staff)

    def cancel(self, case_code: str, *, actor: str, reason: str) -> Case:
        return self.advance(case_code, CaseState.CANCELLED, actor=actor, detail={"reason": reason})

    def get_case(self, case_code: str) -> Case:
        return self._load(case_code)[1]

    def find_by_pickup_code(self, pickup_code: str) -> Case:
        """The open case (not closed/cancelled) with this pickup code."""
        row = self.db.query_one(
            "SELECT case_code FROM cases WHERE pickup_mac = ? AND state NOT IN ('closed', 'cancelled')",
            (self.cipher.mac("pickup", pickup_code.strip()),),
        )
        if row is None:
            raise CaseNotFound("no open case has this pickup code")
        return self.get_case(row["case_code"])

    def pending_pickups(self) -> list[Case]:
        """Committed cases whose papers wait in a compartment for staff, oldest first."""
        return self.list_cases(CaseState.COMMITTED)

    def list_cases(self, state: CaseState) -> list[Case]:
        rows = self.db.query("SELECT * FROM cases WHERE state = ? ORDER BY committed_at, id", (state.value,))
        return [self._to_case(r) for r in rows]

    def stale_drafts(self, older_than_s: float) -> list[str]:
        """Drafts left by a crash or a walk-away; the flow cancels them at start-up."""
        rows = self.db.query(
            "SELECT case_code FROM cases WHERE state = 'draft' AND created_at < ?", (self.clock() - older_than_s,)
        )
        return [r["case_code"] for r in rows]

    # -- personal data ---------------------------------------------------------------------------
    def identity(self, case_code: str) -> Identity:
        case_code = normalise_code(case_code)
        blob = self._personal(case_code, "identity_enc")
        d = json.loads(self._dec(blob, case_code, "identity"))
        return Identity(d["name"], d["id_number"], d.get("extra", {}))

    def card_photo(self, case_code: str) -> bytes | None:
        case_code = normalise_code(case_code)
        blob = self._personal(case_code, "photo_enc", required=False)
        return None if blob is None else self._dec(blob, case_code, "card_photo")

    def fingerprint(self, case_code: str) -> bytes | None:
        case_code = normalise_code(case_code)
        blob = self._personal(case_code, "fingerprint_enc", required=False)
        return None if blob is None else self._dec(blob, case_code, "fingerprint")

    def read_scan(self, case_code: str, paper_id: str, page: int) -> bytes:
        case_code = normalise_code(case_code)
        row = self.db.query_one(
            "SELECT s.rel_path, s.sha256, s.size, s.purged_at FROM scan_files s JOIN cases c ON c.id = s.case_id"
            " WHERE c.case_code = ? AND s.paper_id = ? AND s.page = ?",
            (case_code, paper_id, page),
        )
        if row is None or row["purged_at"] is not None:
            raise CaseNotFound(f"case {case_code} has no stored scan of {paper_id} page {page}")
        return self.scans.read(case_code, paper_id, page, ScanRef(row["rel_path"], row["sha256"], row["size"]))

    def verify_scans(self) -> list[ScanProblem]:
        """Every recorded (unpurged) scan file re-hashed: missing or altered ones come back."""
        rows = self.db.query(
            "SELECT c.case_code, s.paper_id, s.page, s.rel_path, s.sha256 FROM scan_files s"
            " JOIN cases c ON c.id = s.case_id WHERE s.purged_at IS NULL ORDER BY s.id"
        )
        problems = []
        for r in rows:
            kind = self.scans.check(r["rel_path"], r["sha256"])
            if kind:
                problems.append(ScanProblem(r["case_code"], r["paper_id"], r["page"], r["rel_path"], kind))
        return problems

    def orphan_scan_files(self) -> list[str]:
        """Files on disk that no row references (a crash between write and record)."""
        known = {r["rel_path"] for r in self.db.query("SELECT rel_path FROM scan_files")}
        return sorted(self.scans.all_files() - known)

    # -- internals -------------------------------------------------------------------------------
    def _enc(self, data: bytes | None, case_code: str, fld: str) -> bytes | None:
        return None if data is None else self.cipher.encrypt(data, table="cases", row=case_code, field=fld)

    def _dec(self, blob: bytes, case_code: str, fld: str) -> bytes:
        return self.cipher.decrypt(blob, table="cases", row=case_code, field=fld)

    def _personal(self, case_code: str, column: str, *, required: bool = True) -> Any:
        row = self.db.query_one(f"SELECT {column} AS v, purged_at FROM cases WHERE case_code = ?", (case_code,))
        if row is None:
            raise CaseNotFound(f"no case {case_code}")
        if row["v"] is None and (required or row["purged_at"] is not None):
            raise CaseNotFound(f"case {case_code} holds no personal data any more (purged by retention)")
        return row["v"]

    def _load(self, case_code: str) -> tuple[int, Case]:
        row = self.db.query_one("SELECT * FROM cases WHERE case_code = ?", (normalise_code(case_code),))
        if row is None:
            raise CaseNotFound(f"no case {case_code}")
        return row["id"], self._to_case(row)

    def _to_case(self, r: sqlite3.Row) -> Case:
        papers = {
            p["paper_id"]: PaperStatus(p["status"])
            for p in self.db.query("SELECT paper_id, status FROM case_papers WHERE case_id = ?", (r["id"],))
        }
        return Case(
            case_code=r["case_code"],
            service_id=r["service_id"],
            state=CaseState(r["state"]),
            compartment_id=r["compartment_id"],
            id_masked=r["id_masked"],
            name_masked=r["name_masked"],
            required_papers=tuple(json.loads(r["required_papers"])),
            papers=papers,
            created_at=r["created_at"],
            committed_at=r["committed_at"],
            collected_at=r["collected_at"],
            result_ready_at=r["result_ready_at"],
            closed_at=r["closed_at"],
            cancelled_at=r["cancelled_at"],
            purged=r["purged_at"] is not None,
        )

    @staticmethod
    def _require_state(case: Case, state: CaseState, what: str) -> None:
        if case.state is not state:
            raise InvalidTransition(f"cannot {what}: case {case.case_code} is {case.state}, not {state}")

    @staticmethod
    def _set_paper(conn: sqlite3.Connection, case_id: int, paper_id: str, status: PaperStatus, now: float) -> None:
        conn.execute(
            "INSERT INTO case_papers (case_id, paper_id, status, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (case_id, paper_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at",
            (case_id, paper_id, status.value, now),
        )

    @staticmethod
    def _new_case_code(conn: sqlite3.Connection) -> str:
        while True:  # runs inside BEGIN IMMEDIATE, so check-then-insert cannot race
            code = "".join(secrets.choice(CASE_CODE_ALPHABET) for _ in range(CASE_CODE_LENGTH))
            if conn.execute("SELECT 1 FROM cases WHERE case_code = ?", (code,)).fetchone() is None:
                return code

    def _new_pickup_code(self, conn: sqlite3.Connection) -> str:
        for _ in range(1000):
            code = f"{secrets.randbelow(10**PICKUP_CODE_DIGITS):0{PICKUP_CODE_DIGITS}d}"
            clash = conn.execute(
                "SELECT 1 FROM cases WHERE pickup_mac = ? AND state NOT IN ('closed', 'cancelled')",
                (self.cipher.mac("pickup", code),),
            ).fetchone()
            if clash is None:
                return code
        raise StoreError("could not find a free pickup code; too many open cases")
