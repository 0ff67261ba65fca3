"""One call that opens the whole durable store from a data directory and a key file.

Layout under ``data_dir``: ``kiosk.sqlite3`` (+ ``-wal``/``-shm``), ``kiosk.sqlite3.audit-anchor``
and ``scans/``. The key file lives elsewhere (configuration decides), so a copy of ``data_dir``
alone reveals no personal data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from locker.audit import AuditLog, AuditReport
from locker.crypto import Cipher
from locker.db import Database
from locker.keys import StoreLock, open_cipher
from locker.scan_files import ScanStore
from locker.submissions import SubmissionStore

DB_NAME = "kiosk.sqlite3"


@dataclass
class Store:
    db: Database
    cipher: Cipher
    scans: ScanStore
    audit: AuditLog
    submissions: SubmissionStore
    lock: StoreLock | None = None

    @classmethod
    def open(
        cls,
        data_dir: str | Path,
        key_file: str | Path,
        *,
        create_key: bool = False,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> Store:
        data = Path(data_dir)
        lock = StoreLock(data)
        db = Database(data / DB_NAME, busy_timeout=busy_timeout)
        # Freed pages are zeroed (a purge must not leave ciphertext in free pages); set here rather
        # than trusting the distribution's SQLite build (Debian enables it, others do not).
        db.query("PRAGMA secure_delete = ON")
        try:
            cipher = open_cipher(db, key_file, create=create_key)
        except BaseException:
            db.close()
            lock.release()
            raise
        scans = ScanStore(data / "scans", cipher)
        audit = AuditLog(db, clock=clock, key=cipher.audit_key)
        if cipher.just_recorded:
            audit.append("kiosk", "key.recorded", detail={"key_id": cipher.key_id})
        store = cls(db, cipher, scans, audit, SubmissionStore(db, cipher, scans, audit, clock=clock))
        store.lock = lock
        return store

    def verify_audit(self) -> AuditReport:
        return self.audit.verify()

    def close(self) -> None:
        self.db.close()
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
