"""Deletes a case's personal data a configurable number of days after it was collected.

What goes: the encrypted identity, card photo and fingerprint template, the masked ID/name, and
the scan files. What stays: the non-personal skeleton (case code, service, states, timestamps,
paper list with checksums) and the audit rows, plus one audit row saying the purge happened.
Cancelled cases count from their cancellation (they were never collected but still hold data).
Cases in ``processing`` or ``result_ready`` are skipped however old: the resident fetches the
result with the ID card and face, so the identity is still needed; they are purged once the result
is collected or the case is closed (then counting from ``collected_at`` as well).

Order: the database rows are cleared and marked purged in one transaction first, then the files
are unlinked. A crash in between leaves files of a purged case; the next run removes them
(``sweep``), so a purge once committed always completes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from locker.errors import StoreError
from locker.fsutil import unlink_durably
from locker.submissions import SubmissionStore

log = logging.getLogger(__name__)

DAY = 86400.0
# A deposit cancelled before it was committed never reached the office: its identity and
# fingerprint have no use at all, so they go within a day whatever retention_days says.
DRAFT_DAYS = 1.0


def wipe_freed_pages(db: Any) -> None:
    """Make a purge real on disk: the cleared blobs must not survive in the WAL or in free pages.

    ``secure_delete`` (set by the store on its connection, not left to Debian's build default)
    zeroes the pages SQLite frees; the TRUNCATE checkpoint copies the WAL into the database and
    empties the ``-wal`` file, whose frames still held the old ciphertext.
    """
    try:
        row = db.query_one("PRAGMA wal_checkpoint(TRUNCATE)")
    except Exception as exc:  # a reader holding the WAL: the next purge or the next start retries
        log.warning("retention: WAL checkpoint after the purge failed: %s", exc)
        return
    if row is not None and row[0]:
        log.warning("retention: WAL checkpoint after the purge was blocked by a reader; retried next run")


@dataclass(frozen=True)
class RetentionResult:
    purged_cases: list[str]
    files_removed: int


class RetentionJob:
    def __init__(self, store: SubmissionStore, *, days: float, clock: Callable[[], float] | None = None,
                 hold_undelivered: bool = True, uncollected_days: float = 0.0, warn_days: float = 7.0,
                 alerts: Any = None, forget_fingerprint: Callable[[str], object] | None = None) -> None:
        self.store = store
        self.days = days
        # Deposits staff never collected: purged after uncollected_days (0: kept), staff warned
        # warn_days before (issue 12: they used to keep identity and fingerprint for ever).
        self.uncollected_days = uncollected_days
        self.warn_days = warn_days
        self.alerts = alerts
        # Drops the resident's fingerprint page mapping and queues the sensor page for deletion
        # (flows.fingerprints.FingerprintDirectory.forget), when no other live case needs it.
        self.forget_fingerprint = forget_fingerprint
        # A case the back office has not acknowledged is its only copy: never purged (kiosk/sync).
        # False only where no back office is configured ([backoffice] enabled = false).
        self.hold_undelivered = hold_undelivered
        self.clock = clock or store.clock

    def run(self, *, actor: str = "retention") -> RetentionResult:
        cutoff = self.clock() - self.days * DAY
        db = self.store.db
        purged: list[str] = []
        self._warn_uncollected(actor)
        uncollected_cutoff = self.clock() - self.uncollected_days * DAY
        with db.transaction() as conn:
            rows = conn.execute(
                "SELECT id, case_code, state FROM cases WHERE purged_at IS NULL AND ("
                " (state IN ('collected', 'result_collected', 'closed', 'cancelled') AND"
                "  COALESCE(collected_at, cancelled_at) IS NOT NULL AND COALESCE(collected_at, cancelled_at) <= ?)"
                " OR (state = 'cancelled' AND committed_at IS NULL AND cancelled_at <= ?)"
                " OR (? > 0 AND state = 'committed' AND committed_at <= ?))"
                " AND (? = 0 OR NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.case_code = cases.case_code"
                " AND d.acknowledged_at IS NULL))",
                (cutoff, self.clock() - min(self.days, DRAFT_DAYS) * DAY, self.uncollected_days,
                 uncollected_cutoff, int(self.hold_undelivered)),
            ).fetchall()
            now = self.clock()
            batch = {int(r["id"]) for r in rows}
            for r in rows:
                if self.forget_fingerprint is not None:
                    self._forget_fingerprint(r["case_code"], batch)
                conn.execute(
                    "UPDATE cases SET identity_enc = NULL, photo_enc = NULL, fingerprint_enc = NULL,"
                    " id_masked = NULL, name_masked = NULL, purged_at = ?, updated_at = ? WHERE id = ?",
                    (now, now, r["id"]),
                )
                n = conn.execute(
                    "UPDATE scan_files SET purged_at = ? WHERE case_id = ? AND purged_at IS NULL", (now, r["id"])
                ).rowcount
                detail: dict[str, Any] = {"retention_days": self.days, "scan_files": n}
                if r["state"] == "committed":
                    detail = {"uncollected_days": self.uncollected_days, "scan_files": n}
                self.store.audit.append(actor, "case.purged", case_code=r["case_code"], detail=detail)
                purged.append(r["case_code"])
        if purged:
            wipe_freed_pages(db)
        removed = self.sweep()
        if purged:
            log.info("retention purged %d case(s), removed %d scan file(s)", len(purged), removed)
        return RetentionResult(purged, removed)

    def _forget_fingerprint(self, case_code: str, batch: set[int]) -> None:
        """The resident's sensor page goes with their data, unless another live case still needs it."""
        assert self.forget_fingerprint is not None
        try:
            id_number = self.store.identity(case_code).id_number
        except Exception as exc:  # unreadable identity: nothing to look the page up by
            log.warning("retention: case %s: identity not readable (%s); its fingerprint page stays", case_code, exc)
            return
        from devices.privacy import mask_id_number

        others = self.store.db.query(
            "SELECT id, case_code FROM cases WHERE purged_at IS NULL AND id_masked = ? AND identity_enc IS NOT NULL",
            (mask_id_number(id_number),),
        )
        for o in others:
            if int(o["id"]) not in batch and self.store.identity(o["case_code"]).id_number == id_number:
                return  # the same resident has a live case: keep the page
        self.forget_fingerprint(id_number)

    def _warn_uncollected(self, actor: str) -> None:
        """One staff alert per deposit that will be purged uncollected within warn_days."""
        if self.uncollected_days <= 0:
            return
        warn_at = self.clock() - max(0.0, self.uncollected_days - self.warn_days) * DAY
        rows = self.store.db.query(
            "SELECT c.case_code, c.compartment_id, c.committed_at FROM cases c WHERE c.purged_at IS NULL"
            " AND c.state = 'committed' AND c.committed_at <= ? AND NOT EXISTS (SELECT 1 FROM audit_log a"
            " WHERE a.case_code = c.case_code AND a.action = 'case.purge_warned')",
            (warn_at,),
        )
        for r in rows:
            purge_on = r["committed_at"] + self.uncollected_days * DAY
            days_left = max(0.0, (purge_on - self.clock()) / DAY)
            text = (f"Case {r['case_code']} in compartment {r['compartment_id']} was never collected; its personal "
                    f"data is deleted in {days_left:.0f} day(s) ({self.uncollected_days:g} days after the deposit).")
            if self.alerts is not None:
                self.alerts.enqueue("case_uncollected", "材料久未取走 Deposit never collected", text, r["case_code"])
            self.store.audit.append(actor, "case.purge_warned", case_code=r["case_code"],
                                    detail={"days_left": round(days_left, 1)})
            log.warning("retention: %s", text)

    def sweep(self) -> int:
        """Unlink every file that belongs to a purged scan row and still exists."""
        scans = self.store.scans
        rows = self.store.db.query("SELECT rel_path FROM scan_files WHERE purged_at IS NOT NULL")
        paths = []
        for r in rows:
            try:
                paths.append(scans.path(r["rel_path"]))
            except StoreError as exc:  # an edited row: never follow it out of scans/
                log.error("retention: %s", exc)
        existing = [p for p in paths if p.exists()]
        unlink_durably(existing)
        for d in {p.parent for p in existing}:
            with contextlib.suppress(OSError):
                d.rmdir()  # the case's directory, once empty
        return len(existing)
