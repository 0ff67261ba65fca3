"""The ``deliveries`` table: one row per committed case until the back office holds all of it.

Why the package is frozen: the first time a case is sent, its JSON is built once, encrypted with
the store's key (it holds the identity and the card photo) and kept in the row, so every resend
is byte-identical — the back office's idempotency compares digests, and a case rebuilt later
(after a guide change, say) must not look like a different package under the same code. The
frozen copy is dropped at acknowledgement: from then on the kiosk's copy follows its retention.

A refused case (4xx) stays in the table with the back office's message, is retried only every
``refused_retry_s`` and is shown by ``kiosk doctor``; nothing is ever deleted from here.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from locker.crypto import Cipher
from locker.db import Database


@dataclass(frozen=True)
class Delivery:
    case_code: str
    created_at: float
    attempts: int
    next_attempt_at: float
    last_error: str | None
    error_code: str | None
    refused_at: float | None
    alerted_at: float | None
    acknowledged_at: float | None


@dataclass(frozen=True)
class QueueSummary:
    pending: int  # not yet acknowledged (refused ones included)
    refused: list[Delivery]
    oldest_pending_at: float | None
    acknowledged: int
    last_error: str | None


class DeliveryQueue:
    def __init__(self, db: Database, cipher: Cipher, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.cipher = cipher
        self.clock = clock

    # -- reading ------------------------------------------------------------------------------------------
    def due(self, limit: int = 50) -> list[str]:
        rows = self.db.query(
            "SELECT case_code FROM deliveries WHERE acknowledged_at IS NULL AND next_attempt_at <= ?"
            " ORDER BY refused_at IS NOT NULL, created_at LIMIT ?", (self.clock(), limit))
        return [r["case_code"] for r in rows]

    def get(self, case_code: str) -> Delivery | None:
        row = self.db.query_one("SELECT * FROM deliveries WHERE case_code = ?", (case_code,))
        return None if row is None else _delivery(row)

    def all(self) -> list[Delivery]:
        return [_delivery(r) for r in self.db.query("SELECT * FROM deliveries ORDER BY created_at")]

    def next_due_at(self) -> float | None:
        row = self.db.query_one("SELECT MIN(next_attempt_at) AS t FROM deliveries WHERE acknowledged_at IS NULL")
        return None if row is None or row["t"] is None else float(row["t"])

    def summary(self) -> QueueSummary:
        pending = [_delivery(r) for r in self.db.query(
            "SELECT * FROM deliveries WHERE acknowledged_at IS NULL ORDER BY created_at")]
        acked = self.db.query_one("SELECT count(*) AS n FROM deliveries WHERE acknowledged_at IS NOT NULL")
        errors = [d.last_error for d in pending if d.last_error]
        return QueueSummary(len(pending), [d for d in pending if d.refused_at is not None],
                            pending[0].created_at if pending else None, int(acked["n"]) if acked else 0,
                            errors[-1] if errors else None)

    # -- the frozen package ---------------------------------------------------------------------------------
    def frozen_package(self, case_code: str) -> bytes | None:
        row = self.db.query_one("SELECT package_enc FROM deliveries WHERE case_code = ?", (case_code,))
        if row is None or row["package_enc"] is None:
            return None
        return self.cipher.decrypt(row["package_enc"], table="deliveries", row=case_code, field="package")

    def freeze(self, case_code: str, package_json: bytes) -> bytes:
        """Keep the first package built for good (until acknowledged); return the one kept."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT package_enc FROM deliveries WHERE case_code = ?", (case_code,)).fetchone()
            if row is not None and row["package_enc"] is not None:  # another round froze it first
                return self.cipher.decrypt(row["package_enc"], table="deliveries", row=case_code, field="package")
            blob = self.cipher.encrypt(package_json, table="deliveries", row=case_code, field="package")
            conn.execute("UPDATE deliveries SET package_enc = ?, package_sha256 = ? WHERE case_code = ?",
                         (blob, hashlib.sha256(package_json).hexdigest(), case_code))
        return package_json

    # -- outcomes -------------------------------------------------------------------------------------------
    def acknowledge(self, case_code: str) -> None:
        now = self.clock()
        with self.db.transaction() as conn:
            conn.execute("UPDATE deliveries SET acknowledged_at = ?, package_enc = NULL, last_error = NULL,"
                         " error_code = NULL, refused_at = NULL, attempts = attempts + 1 WHERE case_code = ?"
                         " AND acknowledged_at IS NULL", (now, case_code))

    def failed(self, case_code: str, error: str, *, code: str, wait_s: float, refused: bool = False) -> Delivery:
        now = self.clock()
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, error_code = ?,"
                " refused_at = CASE WHEN ? THEN COALESCE(refused_at, ?) ELSE NULL END WHERE case_code = ?",
                (now + wait_s, error[:2000], code, refused, now, case_code))
        got = self.get(case_code)
        assert got is not None
        return got

    def mark_alerted(self, case_code: str) -> bool:
        """True the first time only: a refusal is raised as a staff alert once."""
        with self.db.transaction() as conn:
            cur = conn.execute("UPDATE deliveries SET alerted_at = ? WHERE case_code = ? AND alerted_at IS NULL",
                               (self.clock(), case_code))
            return cur.rowcount == 1

    def retry_all_now(self) -> int:
        """After a re-enrolment or an update: everything pending is due at once."""
        with self.db.transaction() as conn:
            return conn.execute("UPDATE deliveries SET next_attempt_at = ? WHERE acknowledged_at IS NULL",
                                (self.clock(),)).rowcount

    # -- sync_state ----------------------------------------------------------------------------------------
    def state(self, key: str, default: Any = None) -> Any:
        row = self.db.query_one("SELECT value FROM sync_state WHERE key = ?", (key,))
        return default if row is None else json.loads(row["value"])

    def set_state(self, key: str, value: Any) -> None:
        self.db.execute(
            "INSERT INTO sync_state (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
            " value = excluded.value, updated_at = excluded.updated_at",
            (key, json.dumps(value, ensure_ascii=False), self.clock()))

    def clear_state(self, key: str) -> None:
        self.db.execute("DELETE FROM sync_state WHERE key = ?", (key,))


def _delivery(r: Any) -> Delivery:
    return Delivery(r["case_code"], r["created_at"], r["attempts"], r["next_attempt_at"], r["last_error"],
                    r["error_code"], r["refused_at"], r["alerted_at"], r["acknowledged_at"])
