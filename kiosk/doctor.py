"""`kiosk doctor`: one line per thing that can stop a kiosk, green or red, each red one with its fix.

Run by hand by a technician and daily by kiosk-selfcheck.timer (its output lands in the journal).
It only reads: it never creates the key file or the database, so a broken kiosk is described, not
"repaired" into a state that hides the fault.
"""

from __future__ import annotations

import shutil
import sqlite3
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devices.errors import KioskError
from kiosk.config import KioskConfig
from locker.store import DB_NAME


@dataclass(frozen=True)
class Finding:
    what: str
    ok: bool
    detail: str
    fix: str = ""


def check_disk(cfg: KioskConfig) -> Finding:
    target = cfg.store.data_dir if cfg.store.data_dir.exists() else cfg.state_dir
    while not target.exists() and target != target.parent:
        target = target.parent
    usage = shutil.disk_usage(target)
    free_mb = usage.free // (1024 * 1024)
    ok = free_mb >= cfg.store.min_free_mb
    return Finding("disk space", ok, f"{free_mb} MB free on {target} (minimum {cfg.store.min_free_mb} MB)",
                   "" if ok else f"free space on the partition holding {target}: old logs, journal "
                                 "(journalctl --vacuum-size=200M)")


def check_key_file(cfg: KioskConfig) -> Finding:
    from locker import keys

    source = keys.key_source(cfg.store.key_file)
    p = source.path
    what = "key file" if source.kind == "file" else "data key"
    if source.kind == "file":
        if not p.exists():
            if cfg.store.create_key and not (cfg.store.data_dir / DB_NAME).exists():
                return Finding("key file", True, f"{p} will be created at first start")
            return Finding("key file", False, f"{p} is missing but data exists",
                           "restore the key file from its backup; without it the stored personal data is unreadable")
        mode = stat.S_IMODE(p.stat().st_mode)
        if mode & 0o077:
            return Finding("key file", False, f"{p} has mode {mode:04o}", f"chmod 600 {p}")
        size = p.stat().st_size
        if size != 32:
            return Finding("key file", False, f"{p} holds {size} bytes, expected 32", "restore it from the backup")
    # The key must be THE key of this data: a wrong one of the right length used to pass here.
    try:
        have = keys.key_id(keys.read_key(source))
    except KioskError as exc:
        return Finding(what, False, exc.message, "restore the key from its backup")
    recorded = _recorded_key_id(cfg)
    if recorded is not None and recorded != have:
        return Finding(what, False, f"{source.describe()} has key id {have}, the data was encrypted with {recorded}",
                       f"restore the backup of key id {recorded}; the kiosk refuses to start until then")
    where = f"mode {stat.S_IMODE(p.stat().st_mode):04o}, " if source.kind == "file" else ""
    return Finding(what, True, f"{source.describe()}: {where}key id {have}"
                   + (" (matches the data)" if recorded else ""))


def _recorded_key_id(cfg: KioskConfig) -> str | None:
    path = cfg.store.data_dir / DB_NAME
    if not path.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            row = con.execute("SELECT key_id FROM key_meta WHERE id = 1").fetchone()
        finally:
            con.close()
    except sqlite3.Error:  # no key_meta yet (a release before key ids): the start records it
        return None
    return None if row is None else str(row[0])


def check_database(cfg: KioskConfig) -> list[Finding]:
    from locker.integrity import lost_database, restore_hint

    path = cfg.store.data_dir / DB_NAME
    lost = lost_database(path)
    if lost is not None:
        return [Finding("database", False, lost, restore_hint(path))]
    if not path.exists():
        return [Finding("database", True, f"{path} not created yet (first start)")]
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            result = con.execute("PRAGMA integrity_check").fetchone()[0]
            version = con.execute("PRAGMA user_version").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error as exc:  # e.g. its header overwritten: "file is not a database"
        return [Finding("database", False, f"{path}: {exc}", unopenable_fix(path))]
    found = [Finding("database", result == "ok", f"{path}: integrity {result}, schema {version}",
                     "" if result == "ok" else restore_hint(path))]
    found.extend(_check_store_contents(cfg))
    return found


def unopenable_fix(db: Path) -> str:
    """What to do about a database SQLite cannot open at all, naming the newest backup to restore.

    The damaged file is moved aside, never deleted: it is evidence, and rows the backup lacks may
    still be read out of it by someone with time and tools.
    """
    from locker.integrity import BACKUP_DIR, newest_backup, restore_hint

    backup = newest_backup(db.parent / BACKUP_DIR)
    if backup is None:
        return "check the disk; " + restore_hint(db)
    return (
        f"check the disk; stop the kiosk (systemctl stop kiosk), keep the damaged file (mv {db} {db}.damaged, "
        f"and its -wal likewise), copy the newest backup {backup} to {db}, start it again; then `kiosk audit verify`"
    )


def _check_store_contents(cfg: KioskConfig) -> list[Finding]:
    from locker.store import Store

    try:
        store = Store.open(cfg.store.data_dir, cfg.store.key_file, create_key=False)
    except KioskError as exc:
        return [Finding("store", False, exc.message, "see the key file and database lines")]
    try:
        from locker.integrity import restore_hint

        report = store.verify_audit()
        lost = any(p.kind in ("deleted", "truncated") for p in report.problems)
        fix = "keep the database as evidence and tell the service centre's security officer " \
              "(`kiosk audit verify` shows the rows)"
        if lost:  # rows gone: cases residents hold receipts for may be missing
            fix = "rows are missing: " + restore_hint(store.db.path) + "; " + fix
        found = [Finding("audit chain", report.ok, "intact" if report.ok else str(report),
                         "" if report.ok else fix)]
        problems = store.submissions.verify_scans()
        found.append(Finding("scan files", not problems,
                             "all present and unaltered" if not problems else f"{len(problems)} problem(s): "
                             + "; ".join(str(p) for p in problems[:3]),
                             "" if not problems else "restore the scans folder from backup"))
        row = store.db.query_one("SELECT count(*) AS n, min(created_at) AS oldest FROM outbox "
                                 "WHERE delivered_at IS NULL")
        pending, oldest = (row["n"], row["oldest"]) if row else (0, None)
        stale = oldest is not None and time.time() - oldest > 3600
        detail = "none pending" if not pending else f"{pending} pending, oldest {int((time.time() - oldest) / 60)} min"
        found.append(Finding("staff alerts", not stale, detail,
                             "" if not stale else "check the alert URLs in [alerts] and the network"))
        return found
    finally:
        store.close()


def check_devices(cfg: KioskConfig) -> list[Finding]:
    from kiosk.cli import check_all

    names = [n for n, d in cfg.devices.items() if d.enabled]
    return [Finding(f"device {r.device}", r.ok, f"{r.status}: {r.detail}",
                    "" if r.ok else "check the cable and power; `kiosk devices check` after the fix")
            for r in check_all(cfg, names)]


def check_backoffice(cfg: KioskConfig) -> list[Finding]:
    """Enrolled, refused (revoked kiosk, refused cases with the back office's message), waiting deliveries."""
    from kiosk.sync.status import findings

    return [Finding(f.what, f.ok, f.detail, f.fix) for f in findings(cfg)]


def check_holiday_calendar(cfg: KioskConfig) -> Finding | list[Finding]:
    """The door schedule's public holidays and 调休 days must be known for the coming weeks."""
    import datetime as dt

    from flows.door_schedule import AfterHoursSchedule

    reader = cfg.devices.get("door_reader")
    if reader is None or not reader.enabled:
        return []  # no door reader: the schedule opens nothing
    door = cfg.door_entry
    problem = AfterHoursSchedule(door.schedule, closures=door.closures, workdays=door.workdays
                                 ).coverage_problem(dt.date.today())
    if problem:
        return Finding("holiday calendar", False, problem,
                       "install a kiosk release with a newer chinesecalendar (make lock UPGRADE=1, make install)")
    return Finding("holiday calendar", True, "public holidays and make-up working days known for 60 days")


def run_doctor(cfg: KioskConfig, *, devices: bool = True) -> list[Finding]:
    checks: list[Callable[[], Finding | list[Finding]]] = [
        lambda: Finding("configuration", True, f"{cfg.path} valid"),
        lambda: check_disk(cfg),
        lambda: check_key_file(cfg),
        lambda: check_database(cfg),
        lambda: check_holiday_calendar(cfg),
    ]
    checks.append(lambda: check_backoffice(cfg))
    if devices:
        checks.append(lambda: check_devices(cfg))
    out: list[Finding] = []
    for check in checks:
        result = check()
        out.extend(result if isinstance(result, list) else [result])
    return out
