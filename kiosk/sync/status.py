"""What ``kiosk doctor`` says about the back office: enrolled, refused, and what waits to be delivered.

Read-only, straight from the SQLite file (``mode=ro``): the doctor must describe a kiosk, never
change it, and it may run while the app holds the database.
"""

from __future__ import annotations

import json
import sqlite3
import stat
import time
from dataclasses import dataclass

from kiosk.config import KioskConfig
from kiosk.sync.credential import credential_path, load_credential
from kiosk.sync.errors import NotEnrolled
from locker.store import DB_NAME

STALE_S = 3600.0  # a case not delivered within an hour is worth a technician's look


@dataclass(frozen=True)
class SyncFinding:
    what: str
    ok: bool
    detail: str
    fix: str = ""


def findings(cfg: KioskConfig, *, now: float | None = None) -> list[SyncFinding]:
    bo = cfg.backoffice
    now = time.time() if now is None else now
    if not bo.enabled:
        return [SyncFinding("back office", True, "delivery disabled ([backoffice] enabled = false): cases stay "
                            "on this kiosk only")]
    out: list[SyncFinding] = []
    path = credential_path(cfg)
    try:
        cred = load_credential(path)
        mode = stat.S_IMODE(path.stat().st_mode)
        out.append(SyncFinding("back office", mode & 0o077 == 0, f"enrolled as {cred.kiosk_id} ({cred.kiosk_name}) "
                               f"with {bo.url or cred.url}", "" if mode & 0o077 == 0 else f"chmod 600 {path}"))
    except NotEnrolled as exc:
        out.append(SyncFinding("back office", False, exc.message, "kiosk enrol URL CODE (the code comes from the "
                               "back office's admin page for this kiosk)"))
    db = cfg.store.data_dir / DB_NAME
    if not db.exists():
        return out
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        con.row_factory = sqlite3.Row
        try:
            if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'deliveries'").fetchone() is None:
                return out
            revoked = con.execute("SELECT value FROM sync_state WHERE key = 'revoked'").fetchone()
            pending = con.execute("SELECT * FROM deliveries WHERE acknowledged_at IS NULL ORDER BY created_at"
                                  ).fetchall()
            acked = con.execute("SELECT count(*) FROM deliveries WHERE acknowledged_at IS NOT NULL").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error as exc:
        out.append(SyncFinding("deliveries", False, f"cannot read the delivery queue: {exc}", "see the database line"))
        return out
    if revoked is not None:
        r = json.loads(revoked["value"])
        out.append(SyncFinding("back office access", False, f"refused since {_ago(now, r.get('since', now))}: "
                               f"{r.get('code')}: {r.get('message')}", "the back office revoked or does not know this "
                               "kiosk: get a new code from its admin, then kiosk enrol --force URL CODE"))
    refused = [p for p in pending if p["refused_at"] is not None]
    for p in refused[:5]:
        out.append(SyncFinding(f"case {p['case_code']}", False, f"refused by the back office ({p['error_code']}): "
                               f"{p['last_error']} — kept on this kiosk, tried again "
                               f"{_when(now, p['next_attempt_at'])}", "the back office's admin or an update of "
                               "either side; the case is not lost"))
    waiting = [p for p in pending if p["refused_at"] is None]
    if not waiting:
        out.append(SyncFinding("deliveries", True, f"none waiting ({acked} delivered"
                               + (f", {len(refused)} refused" if refused else "") + ")"))
    else:
        oldest = min(p["created_at"] for p in waiting)
        stale = now - oldest > STALE_S
        last = next((p["last_error"] for p in reversed(waiting) if p["last_error"]), None)
        out.append(SyncFinding("deliveries", not stale, f"{len(waiting)} waiting, oldest {_ago(now, oldest)}, "
                               f"{acked} delivered" + (f"; last error: {last}" if last else ""),
                               "" if not stale else "check the network and [backoffice] url / ca_file; nothing is "
                               "lost, the kiosk keeps every case until the back office has it"))
    return out


def _ago(now: float, t: float) -> str:
    s = max(0.0, now - float(t))
    return f"{s / 60:.0f} min ago" if s < 7200 else f"{s / 3600:.1f} h ago"


def _when(now: float, t: float) -> str:
    s = float(t) - now
    return "now" if s <= 0 else f"in {s / 60:.0f} min"
