"""The delivery worker: works off the ``deliveries`` table and the audit events, at least once.

One case, in order (each step safe to repeat, because the back office is idempotent):

1. the package: frozen at the first try (``queue.freeze``), byte-identical ever after — once the
   receipt has printed (or ``receipt_grace_s`` after the commit), so it can say so;
2. ``PUT /cases/<code>``: the back office commits the case and answers which files it lacks;
3. each missing file in ``MAX_CHUNK_BYTES`` chunks, starting from the offset the back office says
   it holds (``GET …/files/<id>``), so a cut costs at most one chunk again, never the whole scan;
4. ``PUT`` the package again: only a receipt with nothing missing marks the case acknowledged.

Failures decide the wait. The network or a 5xx: back off (``retry_min_s`` doubling to
``retry_max_s``) and end the round — the other cases would meet the same wall. A 4xx refusal:
the case is kept with the back office's message, retried every ``refused_retry_s``, logged, shown
by ``kiosk doctor`` and raised once as a staff alert; the next case goes on. A 401 (revoked or
forged credential): logged, alerted once, and nothing is tried for ``refused_retry_s`` unless the
kiosk is enrolled again. A wall clock that jumps (a kiosk off by hours, then corrected) cannot
park a case: a wait longer than the longest back-off counts as due.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import contract
from devices.errors import KioskError
from flows.guide import ServiceGuide
from kiosk.config import BackofficeConfig
from kiosk.sync.client import BackofficeClient
from kiosk.sync.credential import Credential, load_credential
from kiosk.sync.errors import NotEnrolled, Refused, Revoked, SyncError, Unreachable
from kiosk.sync.events import next_events
from kiosk.sync.package import RECEIPT_PRINTED, PackageError, build_package
from kiosk.sync.queue import DeliveryQueue
from kiosk.sync.rounds import Rounds
from locker.errors import StoreError

log = logging.getLogger(__name__)

CHUNK = contract.MAX_CHUNK_BYTES
EVENTS_CURSOR = "events_cursor"
EVENTS_REFUSED = "events_refused"
REVOKED = "revoked"
LAST_CONTACT = "last_contact"
RECEIPT_GRACE_S = 20.0  # how long a fresh case waits for its printed receipt before it is packaged anyway


@dataclass
class RoundReport:
    acknowledged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    events_sent: int = 0
    bytes_uploaded: int = 0
    stopped: str | None = None  # why the round ended early: unreachable, revoked, not enrolled


class DeliveryWorker(Rounds):
    """Delivers committed cases and their events; ``run_once`` is one round, ``start`` a thread of rounds."""

    THREAD_NAME = "backoffice-delivery"

    def __init__(self, store: Any, guide: ServiceGuide | None, cfg: BackofficeConfig, *, credential_file: Path,
                 simulator: bool, alerts: Any = None, clock: Callable[[], float] = time.time,
                 receipt_grace_s: float = RECEIPT_GRACE_S) -> None:
        super().__init__()
        self.store = store
        self.guide = guide
        self.cfg = cfg
        self.credential_file = credential_file
        self.simulator = simulator
        self.alerts = alerts
        self.clock = clock
        self.receipt_grace_s = receipt_grace_s
        self.queue = DeliveryQueue(store.db, store.cipher, clock=clock)
        self._lock = threading.Lock()
        self.status = "starting"

    # -- thread -------------------------------------------------------------------------------------------
    def round(self) -> Any:
        return self.run_once()

    def round_wait(self, took: float) -> float:
        return self.cfg.poll_interval_s

    # -- one round ------------------------------------------------------------------------------------------
    def run_once(self) -> RoundReport:
        with self._lock:
            report = RoundReport()
            try:
                cred = load_credential(self.credential_file)
            except NotEnrolled as exc:
                if self.status != "not enrolled":
                    log.warning("back office: %s", exc)
                self.status = "not enrolled"
                report.stopped = "not enrolled"
                return report
            if self._revoked_wait(cred):
                report.stopped = "revoked"
                return report
            client = self.client_for(cred)
            try:
                self._deliver_cases(client, cred, report)
                if report.stopped is None:
                    self._deliver_events(client, cred, report)
            except Revoked as exc:
                self._revoked(cred, exc)
                report.stopped = "revoked"
            except Unreachable as exc:
                report.stopped = "unreachable"
                self.status = f"unreachable: {exc.message}"
            if report.stopped is None:
                self.status = "ok"
                if report.acknowledged or report.events_sent:  # the credential was accepted again
                    self.clear_revoked_on_success()
            return report

    # -- cases ------------------------------------------------------------------------------------------------
    def _deliver_cases(self, client: BackofficeClient, cred: Credential, report: RoundReport) -> None:
        max_wait = max(self.cfg.retry_max_s, self.cfg.refused_retry_s)
        now = self.clock()
        due = self.queue.due()
        parked = self.store.db.query(  # a clock set back by hours must not park a case for hours
            "SELECT case_code FROM deliveries WHERE acknowledged_at IS NULL AND next_attempt_at > ?",
            (now + max_wait,))
        for code in due + [r["case_code"] for r in parked if r["case_code"] not in due]:
            if self._stop.is_set():
                return
            if not self._receipt_settled(code, now):
                continue  # the printer is still at it: the package says whether the resident holds a receipt
            try:
                report.bytes_uploaded += self.deliver_case(client, cred, code)
            except Revoked:
                raise
            except Unreachable as exc:
                d = self.queue.failed(code, exc.message, code=exc.code, wait_s=self._backoff(code))
                log.warning("back office unreachable delivering case %s (try %d): %s; next try in %.0f s", code,
                            d.attempts, exc.message, d.next_attempt_at - self.clock())
                report.failed[code] = exc.message
                raise
            except Refused as exc:
                self._refused(code, exc.code, exc.message, report)
            except (PackageError, StoreError, contract.ContractError) as exc:
                self._refused(code, getattr(exc, "code", "kiosk.package"), f"the kiosk cannot package the case: "
                              f"{getattr(exc, 'message', exc)}", report)
            else:
                report.acknowledged.append(code)
                self.queue.set_state(LAST_CONTACT, self.clock())

    def _receipt_settled(self, code: str, now: float) -> bool:
        """Package a case once its receipt printed, or ``receipt_grace_s`` after the commit (no printer)."""
        row = self.store.db.query_one(
            "SELECT c.committed_at, d.package_enc IS NOT NULL AS frozen, EXISTS (SELECT 1 FROM audit_log a"
            " WHERE a.case_code = c.case_code AND a.action = ?) AS printed FROM cases c JOIN deliveries d"
            " ON d.case_code = c.case_code WHERE c.case_code = ?", (RECEIPT_PRINTED, code))
        if row is None or row["frozen"] or row["printed"] or row["committed_at"] is None:
            return True
        return not 0 <= now - float(row["committed_at"]) < self.receipt_grace_s

    def deliver_case(self, client: BackofficeClient, cred: Credential, code: str) -> int:
        """Steps 1–4 of the module doc for one case; returns the bytes uploaded. Raises SyncError."""
        package_json = self.queue.frozen_package(code)
        if package_json is None:
            pkg = build_package(self.store.submissions, self.guide, cred.kiosk_id, code)
            built = contract.dumps(pkg)
            contract.CasePackage.from_json(json.loads(built))  # never send what the contract refuses
            package_json = self.queue.freeze(code, built)
        # The back office judges the frozen package (it was checked against the contract when built);
        # here only its file list is read, when the receipt asks for files.
        receipt = client.put_case(code, package_json)
        uploaded = 0
        if receipt.missing_files:
            files = {f.file_id: f for f in (contract.ScanFile.from_json(d, "case.files")
                                            for d in json.loads(package_json).get("files", []))}
            for file_id in receipt.missing_files:
                if file_id not in files:
                    raise PackageError(f"the back office asks for file {file_id!r}, which case {code} does not have")
                uploaded += self.upload_file(client, code, files[file_id], fresh=receipt.created)
            receipt = client.put_case(code, package_json)
        if not receipt.complete:
            raise Unreachable(f"case {code}: the back office still lacks {', '.join(receipt.missing_files)}")
        self.queue.acknowledge(code)
        from locker.resident import ResidentStore  # the number and pickup code are the back office's now

        ResidentStore(self.queue.db, self.queue.cipher).forget(code)
        log.info("case %s delivered to the back office (%d bytes of scans uploaded)", code, uploaded)
        return uploaded

    def upload_file(self, client: BackofficeClient, case_code: str, f: contract.ScanFile, *,
                    fresh: bool = False) -> int:
        """Upload from where the back office's copy ends; a resend of held bytes is harmless.

        ``fresh``: this very round created the case at the back office, so it holds no byte yet and
        there is nothing to ask; otherwise the held offset is asked first (a resume after a cut).
        """
        data = self.store.submissions.read_scan(case_code, f.paper_id, f.page)
        if len(data) != f.size or hashlib.sha256(data).hexdigest() != f.sha256:
            raise PackageError(f"scan {f.file_id} of case {case_code} no longer matches its package")
        status = (contract.UploadStatus(f.file_id, 0, f.size, False) if fresh
                  else client.file_status(case_code, f.file_id))
        offset, sent = status.received, 0
        gaps = 0
        while not status.complete and offset < f.size:
            chunk = data[offset:offset + CHUNK]
            try:
                status = client.put_chunk(case_code, f.file_id, offset, chunk, f.size)
            except Refused as exc:
                if exc.status == 416 and gaps < 3:  # our idea of the held offset was stale: ask again
                    gaps += 1
                    status = client.file_status(case_code, f.file_id)
                    offset = status.received
                    continue
                if exc.code == "file.checksum":  # the upload was discarded: start it again next round
                    raise Unreachable(f"scan {f.file_id} of case {case_code} arrived damaged; "
                                      "sending it again") from exc
                raise
            sent += len(chunk)
            if status.received <= offset and not status.complete:
                raise Unreachable(f"scan {f.file_id}: the back office did not take the chunk at {offset}")
            offset = status.received
        return sent

    def _refused(self, code: str, err_code: str, message: str, report: RoundReport) -> None:
        d = self.queue.failed(code, message, code=err_code, wait_s=self.cfg.refused_retry_s, refused=True)
        log.error("back office refused case %s (%s): %s — the kiosk keeps it and tries again in %.0f s", code,
                  err_code, message, self.cfg.refused_retry_s)
        report.refused[code] = message
        if d.alerted_at is None and self.queue.mark_alerted(code):
            self._alert("delivery_refused", f"案件未被后台接收 Case not accepted by the back office: {code}",
                        f"The back office refused case {code} ({err_code}): {message}. The kiosk keeps the case "
                        f"and tries again every {self.cfg.refused_retry_s:.0f} s; `kiosk doctor` shows it.", code)

    def _backoff(self, code: str) -> float:
        d = self.queue.get(code)
        attempts = (d.attempts if d else 0) + 1
        return min(self.cfg.retry_max_s, self.cfg.retry_min_s * 2 ** max(0, attempts - 1))

    # -- events ----------------------------------------------------------------------------------------------
    def _deliver_events(self, client: BackofficeClient, cred: Credential, report: RoundReport) -> None:
        for _ in range(20):  # at most 20 batches a round; the rest next round
            cursor = int(self.queue.state(EVENTS_CURSOR, 0))
            scan = next_events(self.store.db, cred.kiosk_id, cursor)
            if scan.events:
                batch = contract.EventBatch(cred.kiosk_id, self.clock(), tuple(scan.events))
                try:
                    answer = client.post_events(batch)
                except Refused as exc:
                    if isinstance(exc, Revoked):
                        raise
                    log.error("back office refused %d event(s) (%s): %s; kept, tried again later", len(scan.events),
                              exc.code, exc.message)
                    report.refused["events"] = exc.message
                    return
                if answer.refused:
                    kept = dict(self.queue.state(EVENTS_REFUSED, {}))
                    kept.update(answer.refused)
                    self.queue.set_state(EVENTS_REFUSED, dict(list(kept.items())[-200:]))
                    log.error("back office refused event(s): %s", "; ".join(f"{k}: {v}" for k, v in
                                                                           list(answer.refused.items())[:5]))
                report.events_sent += len(answer.accepted)
            if scan.last_seq != cursor:
                self.queue.set_state(EVENTS_CURSOR, scan.last_seq)
            if not scan.events or scan.held_by is not None:
                return

    # -- revocation ------------------------------------------------------------------------------------------
    def _revoked(self, cred: Credential, exc: Revoked) -> None:
        tag = hashlib.sha256(cred.token.encode()).hexdigest()[:16]
        prev = self.queue.state(REVOKED)
        first = not prev or prev.get("credential") != tag
        self.queue.set_state(REVOKED, {"credential": tag, "code": exc.code, "message": exc.message,
                                       "at": self.clock(), "retry_at": self.clock() + self.cfg.refused_retry_s,
                                       "since": prev.get("since", self.clock()) if prev and not first
                                       else self.clock()})
        self.status = f"refused: {exc.code}"
        log.error("back office refused this kiosk (%s): %s — delivery paused for %.0f s; re-enrol with "
                  "`kiosk enrol URL CODE`", exc.code, exc.message, self.cfg.refused_retry_s)
        if first:
            self._alert("kiosk_revoked", "自助终端被后台拒绝 Kiosk refused by the back office",
                        f"The back office refused this kiosk's credential ({exc.code}): {exc.message}. Cases are kept "
                        "on the kiosk until it is enrolled again (`kiosk enrol URL CODE`).", None)

    def _revoked_wait(self, cred: Credential) -> bool:
        state = self.queue.state(REVOKED)
        if not state:
            return False
        if state.get("credential") != hashlib.sha256(cred.token.encode()).hexdigest()[:16]:
            self.queue.clear_state(REVOKED)  # enrolled again: a new credential, try at once
            self.queue.retry_all_now()
            return False
        now = self.clock()
        retry_at = float(state.get("retry_at", 0))
        if now < retry_at and retry_at - now <= self.cfg.refused_retry_s:
            self.status = f"refused: {state.get('code')}"
            return True
        return False

    def clear_revoked_on_success(self) -> None:
        if self.queue.state(REVOKED):
            self.queue.clear_state(REVOKED)

    def _alert(self, kind: str, title: str, body: str, case_code: str | None) -> None:
        if self.alerts is None:
            return
        try:
            self.alerts.enqueue(kind, title, body, case_code)
        except KioskError as exc:
            log.error("could not queue the staff alert %s: %s", kind, exc)


__all__ = ["DeliveryWorker", "RoundReport", "SyncError"]
