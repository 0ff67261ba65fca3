#!/usr/bin/python3
"""Side-by-side releases: switch, confirm, guard and roll back. Standard library only.

Layout (``make install``, see scripts/install.sh)::

    /opt/kiosk/releases/<version>/{src,venv,release.json}
    /opt/kiosk/current  -> releases/<version>     switched atomically (rename of a new link)
    /opt/kiosk/previous -> releases/<older>       what `kiosk rollback` goes back to
    /opt/kiosk/venv -> current/venv, /opt/kiosk/src -> current/src   (what the units run)
    /opt/kiosk/bin/kiosk-release                   this file: the units' start guard
    /var/lib/kiosk/release-pending.json            an update not yet confirmed healthy

Why a standalone file: kiosk.service runs ``kiosk-release guard`` before every start (as root,
``ExecStartPre=+``). It must work when the new release's virtualenv is broken, so it needs nothing
but /usr/bin/python3. After the app is up (``Type=notify``: READY=1), ``kiosk release confirm``
(``ExecStartPost=``) runs the new release's self-check and clears the pending mark. A release that
is not confirmed after ``MAX_STARTS`` starts is rolled back by the guard on the next start.

Going back is refused when the database was migrated past what the previous release can open
(a breaking migration, see locker/schema.py): the message is that migration's release note.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "/opt/kiosk"
STATE_DIR = "/var/lib/kiosk"
RELEASE_FILE = "release.json"
MAX_STARTS = 3  # starts an unconfirmed release gets before the guard rolls it back
KEEP = 3  # release folders kept (current, previous and one more)
UNITS = ("kiosk.service", "kiosk-x11.service")


class ReleaseError(Exception):
    """A release operation that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Layout:
    root: str = ""  # DESTDIR: a staging root, "" on the kiosk itself
    prefix: str = PREFIX
    state_dir: str = STATE_DIR

    def path(self, target_path: str) -> Path:
        """A path of the target system, inside the staging root."""
        return Path(self.root + target_path)

    @property
    def base(self) -> Path:
        return self.path(self.prefix)

    @property
    def releases(self) -> Path:
        return self.base / "releases"

    @property
    def current(self) -> Path:
        return self.base / "current"

    @property
    def previous(self) -> Path:
        return self.base / "previous"

    @property
    def pending_file(self) -> Path:
        return self.path(self.state_dir) / "release-pending.json"

    @property
    def state_file(self) -> Path:
        return self.path(self.state_dir) / "release-state.json"

    @property
    def history_file(self) -> Path:
        return self.path(self.state_dir) / "release-history.log"


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ReleaseError(f"cannot read {path}: {exc}") from exc


def _own_like_folder(path: Path) -> None:
    """Files root writes in the kiosk's state folder belong to the kiosk user, like the folder.

    ``kiosk release confirm`` runs as the kiosk user and must be able to replace and append to them.
    """
    if os.geteuid() == 0:
        st = path.parent.stat()
        os.chown(path, st.st_uid, st.st_gid)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write-then-rename, so a power cut leaves the old or the new file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    _own_like_folder(tmp)
    os.replace(tmp, path)


def _history(layout: Layout, line: str) -> None:
    layout.history_file.parent.mkdir(parents=True, exist_ok=True)
    with layout.history_file.open("a", encoding="utf-8") as f:
        f.write(f"{_now()} {line}\n")
    _own_like_folder(layout.history_file)


def link_target(link: Path) -> str | None:
    """The release name a link points to (releases/<name>), or None when there is no link."""
    try:
        return Path(os.readlink(link)).name
    except (FileNotFoundError, OSError):
        return None


def switch_link(link: Path, release: str) -> None:
    """Point ``link`` at releases/<release> atomically: a new link renamed over the old one."""
    tmp = link.with_name(f".{link.name}.new")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(f"releases/{release}", tmp)
    os.replace(tmp, link)
    fd = os.open(link.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself survives a power cut
    finally:
        os.close(fd)


def metadata(layout: Layout, release: str) -> dict[str, Any]:
    meta = _read_json(layout.releases / release / RELEASE_FILE)
    if not meta:
        raise ReleaseError(f"{layout.releases / release} is not an installed release (no {RELEASE_FILE})")
    return meta


# -- the database check ----------------------------------------------------------------------------
_DB_PROBE = r"""
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=10)
version = conn.execute("PRAGMA user_version").fetchone()[0]
try:
    row = conn.execute("SELECT floor, note FROM schema_compat WHERE id = 1").fetchone()
except sqlite3.OperationalError:
    row = None
conn.close()
print(json.dumps({"version": version, "floor": row[0] if row else None, "note": row[1] if row else ""}))
"""


def probe_database(db: Path) -> dict[str, Any] | None:
    """user_version and the recorded compatibility floor; None when there is no database yet.

    Read as the file's owner (the kiosk user), never as root: a root-owned -shm/-wal file left
    beside the database would lock the app out of its own data.
    """
    if not db.exists():
        return None
    st = db.stat()
    kwargs: dict[str, Any] = {}
    if os.geteuid() == 0 and st.st_uid != 0:
        kwargs = {"user": st.st_uid, "group": st.st_gid, "extra_groups": []}
    proc = subprocess.run([sys.executable, "-c", _DB_PROBE, str(db)], capture_output=True, text=True,
                          timeout=60, **kwargs)
    if proc.returncode != 0:
        raise ReleaseError(f"cannot read the database {db}: {proc.stderr.strip().splitlines()[-1:]}")
    return dict(json.loads(proc.stdout))


def can_open(meta: dict[str, Any], db: dict[str, Any] | None) -> str:
    """"" when a release with ``meta`` can open the database ``db``; else why not (the release note)."""
    if db is None:
        return ""
    known = int(meta.get("schema", 0))
    if db["version"] <= known:
        return ""
    name = meta.get("version", "?")
    if not meta.get("schema_compat"):
        return (f"the database is at schema {db['version']}; release {name} knows schema {known} and predates "
                "recorded schema compatibility, so it would refuse the file")
    if db["floor"] is None:
        return f"the database is at schema {db['version']} and records no compatibility; release {name} refuses it"
    if db["floor"] <= known:
        return ""
    note = db["note"] or "a migration older releases cannot read"
    return (f"the database was migrated to schema {db['version']} and release {name} (schema {known}) cannot "
            f"open it: {note}")


def database_path(layout: Layout) -> Path | None:
    db = _read_json(layout.state_file).get("db")
    return layout.path(db) if db else None


# -- operations ---------------------------------------------------------------------------------------
def activate(layout: Layout, release: str, *, db: str = "") -> str:
    """Make ``release`` current; the one it replaces becomes previous; mark it pending confirmation."""
    metadata(layout, release)
    current = link_target(layout.current)
    if db:
        state = _read_json(layout.state_file)
        if state.get("db") != db:
            _write_json(layout.state_file, {**state, "db": db})
    if current == release:
        return f"release {release} is already current"
    if current is not None:
        switch_link(layout.previous, current)
    switch_link(layout.current, release)
    _write_json(layout.pending_file, {"release": release, "from": current, "starts": 0, "since": _now()})
    _history(layout, f"activated {release} (was {current})")
    return f"release {release} is current" + (f"; {current} is kept for kiosk rollback" if current else "")


def confirm(layout: Layout) -> str:
    pending = _read_json(layout.pending_file)
    current = link_target(layout.current)
    if not pending:
        return f"release {current} was already confirmed"
    layout.pending_file.unlink(missing_ok=True)
    _history(layout, f"confirmed {current} after {pending.get('starts', 0)} start(s)")
    return f"release {current} confirmed"


def rollback(layout: Layout, *, reason: str = "by hand") -> str:
    """Go back to the previous release, unless the database is past what it can open."""
    current = link_target(layout.current)
    previous = link_target(layout.previous)
    if previous is None or not (layout.releases / previous).is_dir():
        raise ReleaseError(f"no previous release to go back to (current: {current})")
    meta = metadata(layout, previous)
    db_path = database_path(layout)
    why = can_open(meta, probe_database(db_path) if db_path else None)
    if why:
        raise ReleaseError(f"cannot roll back from {current} to {previous}: {why}")
    switch_link(layout.current, previous)
    layout.previous.unlink()
    layout.pending_file.unlink(missing_ok=True)
    _history(layout, f"rolled back from {current} to {previous} ({reason})")
    return f"rolled back from {current} to {previous}"


def guard(layout: Layout, *, max_starts: int = MAX_STARTS) -> str:
    """Before every start: count the starts of an unconfirmed release; roll it back after too many."""
    pending = _read_json(layout.pending_file)
    if not pending:
        return ""
    starts = int(pending.get("starts", 0))
    if starts >= max_starts:
        try:
            return rollback(layout, reason=f"not confirmed healthy after {starts} starts")
        except ReleaseError as exc:  # start anyway: the unit's failures show in the journal
            _history(layout, f"automatic rollback refused: {exc}")
            return f"automatic rollback refused: {exc}"
    _write_json(layout.pending_file, {**pending, "starts": starts + 1})
    return f"release {pending.get('release')} start {starts + 1} of {max_starts} before it is confirmed"


def prune(layout: Layout, *, keep: int = KEEP) -> list[str]:
    """Delete the oldest release folders beyond ``keep``; never current, previous or pending ones."""
    protected = {link_target(layout.current), link_target(layout.previous),
                 _read_json(layout.pending_file).get("release")}
    folders = sorted((p for p in layout.releases.iterdir() if p.is_dir() and not p.name.endswith(".new")),
                     key=lambda p: p.stat().st_mtime) if layout.releases.is_dir() else []
    removed = []
    for folder in folders[: max(0, len(folders) - keep)]:
        if folder.name not in protected:
            shutil.rmtree(folder)
            removed.append(folder.name)
    return removed


def status(layout: Layout) -> dict[str, Any]:
    return {
        "current": link_target(layout.current),
        "previous": link_target(layout.previous),
        "pending": _read_json(layout.pending_file) or None,
        "releases": sorted(p.name for p in layout.releases.iterdir()) if layout.releases.is_dir() else [],
    }


def _have_systemd() -> bool:
    return bool(shutil.which("systemctl")) and Path("/run/systemd/system").is_dir()


def _active_units() -> list[str]:
    if not _have_systemd():
        return []
    return [u for u in UNITS if subprocess.run(["systemctl", "is-active", "--quiet", u], check=False).returncode == 0]


def _systemctl(verb: str, *units: str) -> None:
    if units and _have_systemd():
        subprocess.run(["systemctl", verb, *units], check=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="kiosk-release", description="side-by-side kiosk releases")
    p.add_argument("--root", default=os.environ.get("DESTDIR", "").rstrip("/"), help="staging root (DESTDIR)")
    p.add_argument("--prefix", default=PREFIX)
    p.add_argument("--state-dir", default=STATE_DIR)
    sub = p.add_subparsers(dest="command", required=True)
    act = sub.add_parser("activate", help="make an installed release current (pending until confirmed)")
    act.add_argument("release")
    act.add_argument("--db", default="", help="the database path on the target system")
    sub.add_parser("confirm", help="the current release is healthy: clear the pending mark")
    sub.add_parser("rollback", help="go back to the previous release (restarts the kiosk)")
    g = sub.add_parser("guard", help="before each start: roll back a release that never got confirmed")
    g.add_argument("--max-starts", type=int, default=MAX_STARTS)
    pr = sub.add_parser("prune", help="delete old release folders")
    pr.add_argument("--keep", type=int, default=KEEP)
    sub.add_parser("status", help="current, previous and pending release (JSON)")
    args = p.parse_args(argv)
    layout = Layout(args.root, args.prefix, args.state_dir)
    try:
        if args.command == "activate":
            print(activate(layout, args.release, db=args.db))
        elif args.command == "confirm":
            print(confirm(layout))
        elif args.command == "rollback":
            running = _active_units() if not args.root else []
            _systemctl("stop", *running)  # the app closes the database before it is checked
            try:
                print(rollback(layout))
            finally:
                _systemctl("start", *running)
        elif args.command == "guard":
            try:
                message = guard(layout, max_starts=args.max_starts)
            except Exception as exc:  # noqa: BLE001 - the guard must never be what keeps the kiosk down
                message = f"guard failed, starting anyway: {exc}"
            if message:
                print(f"kiosk-release: {message}", file=sys.stderr)
        elif args.command == "prune":
            for name in prune(layout, keep=args.keep):
                print(f"removed release {name}")
        else:
            print(json.dumps(status(layout), indent=1))
    except ReleaseError as exc:
        print(f"kiosk-release: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
