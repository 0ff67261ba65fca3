"""Is the database the kiosk is about to serve from the one it wrote? Checked at every start.

A 0-byte or deleted database file, or a write-ahead log lost or damaged in a crash, opens in
SQLite without a word: as a new empty database, or as the last checkpoint without the newest
transactions. Cases residents hold receipts for would then simply be gone. Two witnesses outlive
such a loss: the audit chain's anchor file beside the database (it names the last row written)
and SQLite's own ``PRAGMA quick_check``. ``inspect_files`` looks at the files *before* the store
opens them (opening creates a missing database); ``check_store`` compares what opened with the
anchor and runs ``quick_check``. When rows are missing or the file is damaged the kiosk must not
serve residents (``IntegrityReport.serve`` is False) and staff must restore a backup:
``newest_backup`` names it. ``backup_database`` makes those backups (SQLite's online backup) at
each start that found the database sound, keeping the newest few.

Only reads and the backup copy happen here; deciding what the screen shows is the runtime's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from locker.audit import AuditLog, read_anchor

log = logging.getLogger(__name__)

BACKUP_DIR = "backups"
BACKUP_KEEP = 3
_LOSS_KINDS = ("deleted", "truncated")  # audit problems that mean rows (cases) are gone


@dataclass(frozen=True)
class FileFacts:
    """What was on disk before the store opened the database (opening changes it)."""

    db_path: Path
    db_exists: bool
    db_size: int
    wal_exists: bool
    anchor_seq: int | None  # None: no anchor file (a first start); -1: unreadable


def inspect_files(db_path: Path) -> FileFacts:
    anchor = read_anchor(anchor_path(db_path))
    exists = db_path.exists()
    return FileFacts(
        db_path=db_path,
        db_exists=exists,
        db_size=db_path.stat().st_size if exists else 0,
        wal_exists=db_path.with_name(db_path.name + "-wal").exists(),
        anchor_seq=None if anchor is None else anchor[0],
    )


def anchor_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".audit-anchor")


@dataclass
class IntegrityReport:
    db_path: Path
    quick_check: str = "ok"
    last_seq: int = 0
    anchor_seq: int | None = None
    problems: list[str] = field(default_factory=list)  # rows lost / file damaged: do not serve
    warnings: list[str] = field(default_factory=list)  # worth a staff look, residents may be served
    backup: Path | None = None  # the newest backup to restore from (None: none found)
    backup_dir: Path | None = None

    @property
    def serve(self) -> bool:
        return not self.problems

    def restore_hint(self) -> str:
        """What to do, for the log, `kiosk doctor` and the staff alert."""
        return restore_hint(self.db_path, self.backup_dir)

    def summary(self) -> str:
        if self.serve and not self.warnings:
            return f"database {self.db_path}: sound (quick_check ok, audit rows up to {self.last_seq})"
        lines = [f"database {self.db_path}: " + ("; ".join(self.problems) or "; ".join(self.warnings))]
        if not self.serve:
            lines.append("restore: " + self.restore_hint())
        return "\n".join(lines)


def check_store(audit: AuditLog, facts: FileFacts, *, backup_dir: Path | None = None) -> IntegrityReport:
    """Compare the opened database with the anchor and run ``quick_check``.

    ``audit`` is the opened store's audit log (its ``verify`` walks the chain); ``facts`` come from
    ``inspect_files`` before the store was opened.
    """
    backups = backup_dir if backup_dir is not None else facts.db_path.parent / BACKUP_DIR
    report = IntegrityReport(db_path=facts.db_path, anchor_seq=facts.anchor_seq, backup_dir=backups)
    report.quick_check = _quick_check(audit)
    if report.quick_check != "ok":
        report.problems.append(f"SQLite quick_check failed: {report.quick_check}")
    named = facts.anchor_seq is not None and facts.anchor_seq > 0
    if named and not facts.db_exists:
        report.problems.append(
            f"the database file was missing at start although the audit anchor names row {facts.anchor_seq}: "
            "a new empty database was opened"
        )
    elif named and facts.db_size == 0:
        report.problems.append(
            f"the database file was 0 bytes at start although the audit anchor names row {facts.anchor_seq}"
        )
    try:
        chain = audit.verify()
    except Exception as exc:  # a damaged file can fail the walk itself
        report.problems.append(f"the audit chain could not be read: {exc}")
    else:
        report.last_seq = chain.last_seq
        lost = [p for p in chain.problems if p.kind in _LOSS_KINDS]
        if lost:
            report.problems.append(
                "rows are missing from the database (cases residents hold receipts for may be gone): "
                + "; ".join(str(p) for p in lost[:3])
            )
        other = [p for p in chain.problems if p.kind not in _LOSS_KINDS]
        report.warnings += [f"audit chain: {p}" for p in other[:3]]
    if not report.serve:
        report.backup = newest_backup(backups)
    return report


def _quick_check(audit: AuditLog) -> str:
    try:
        rows = audit.db.query("PRAGMA quick_check")
    except Exception as exc:  # StoreError for a malformed file
        return str(exc)
    results = [str(r[0]) for r in rows]
    return "ok" if results == ["ok"] else "; ".join(results[:5])


def restore_hint(db: Path, backup_dir: Path | None = None) -> str:
    """Which backup to restore and how, naming the file (the newest one made at a sound start)."""
    where = backup_dir if backup_dir is not None else db.parent / BACKUP_DIR
    backup = newest_backup(where)
    if backup is not None:
        return (
            f"stop the kiosk (systemctl stop kiosk), copy {backup} to {db}, delete {db}-wal and "
            f"{db}-shm, start it again; then `kiosk audit verify`"
        )
    return f"no backup found in {where}: restore {db} from the site's own backup of this kiosk"


def lost_database(db: Path) -> str | None:
    """Without opening anything: a database file missing or empty although its anchor names rows."""
    anchor = read_anchor(anchor_path(db))
    if anchor is None or anchor[0] <= 0:
        return None
    if not db.exists():
        return f"{db} is missing although its audit anchor names row {anchor[0]}: cases were lost"
    if db.stat().st_size == 0:
        return f"{db} is 0 bytes although its audit anchor names row {anchor[0]}: cases were lost"
    return None


def newest_backup(backup_dir: Path) -> Path | None:
    try:
        files = sorted(backup_dir.glob("kiosk-*.sqlite3"), key=lambda p: p.name)
    except OSError:
        return None
    return files[-1] if files else None


def backup_database(db_path: Path, backup_dir: Path | None = None, *, keep: int = BACKUP_KEEP) -> Path:
    """A consistent copy of the live database (SQLite online backup), the oldest beyond ``keep`` removed.

    Runs from its own read connection, so the kiosk's writers wait at most for one page step.
    The copy holds personal data only encrypted (the key file is elsewhere), like the database.
    """
    target_dir = backup_dir if backup_dir is not None else db_path.parent / BACKUP_DIR
    target_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    target = target_dir / f"kiosk-{stamp}.sqlite3"
    partial = target.with_suffix(".partial")
    src = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst, pages=256)
        finally:
            dst.close()
    finally:
        src.close()
    os.replace(partial, target)
    os.chmod(target, 0o600)
    for old in sorted(target_dir.glob("kiosk-*.sqlite3"), key=lambda p: p.name)[:-keep]:
        with contextlib.suppress(OSError):
            old.unlink()
    log.info("database backed up to %s", target)
    return target
