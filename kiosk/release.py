"""Which release is running, for the logs and the back-office heartbeat.

The version lives in one place, ``kiosk.__version__``; an installed kiosk also knows which release
folder it runs from (/opt/kiosk/releases/<version>, see kiosk.releases) and the database schema it
brings. Standard library only: ``kiosk --version`` and the heartbeat must work on a kiosk whose
optional packages are broken.
"""

from __future__ import annotations

import json
import logging
import platform
import sys
from pathlib import Path
from typing import Any

from kiosk import __version__

log = logging.getLogger("kiosk.release")

RELEASE_FILE = "release.json"  # written by `make install` into each release folder
DB_NAME = "kiosk.sqlite3"  # locker.store.DB_NAME; importing that module needs the cryptography wheel


def release_dir() -> Path | None:
    """The release folder this code runs from (/opt/kiosk/releases/<version>), or None in a source tree."""
    here = Path(sys.prefix).resolve()  # the release's venv: <release>/venv
    candidate = here.parent
    return candidate if (candidate / RELEASE_FILE).is_file() else None


def release_metadata() -> dict[str, Any]:
    folder = release_dir()
    if folder is None:
        return {}
    try:
        return dict(json.loads((folder / RELEASE_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def version_info() -> dict[str, Any]:
    """What the back-office heartbeat sends: version, release folder, database schema, Python.

    Cheap and side-effect free (reads one small JSON file): the sync worker may call it every beat.
    """
    from locker.schema import LATEST

    meta = release_metadata()
    folder = release_dir()
    return {
        "version": __version__,
        "release": folder.name if folder else "source",
        "installed_at": meta.get("installed_at", ""),
        "schema": LATEST,
        "python": platform.python_version(),
    }


def log_start(command: str) -> None:
    """One line at the start of a long-running command: the first thing support asks is the version.

    Logged at the handler's own level (at least INFO), so it appears whatever KIOSK_LOG_LEVEL says:
    a kiosk at the default WARNING still shows which release started after each restart.
    """
    info = version_info()
    level = max(logging.INFO, logging.getLogger().getEffectiveLevel())
    log.log(level, "kiosk %s %s starting (release %s, schema %s, Python %s)", command, info["version"],
            info["release"], info["schema"], info["python"])


# -- the release's self-check ---------------------------------------------------------------------------
#: Modules a broken install fails to import: the app, its flows and drivers, the native wheels.
SELF_CHECK_IMPORTS = ("kiosk.runtime", "kiosk.app", "flows.deposit", "flows.door_schedule", "cv2", "numpy",
                      "chinese_calendar", "face_recognition", "smartcard")


def selfcheck(cfg: Any, *, root: str = "", copy: bool = True, imports: bool = True) -> list[str]:
    """What is wrong with this release on this kiosk ([] when nothing): run before and after a switch.

    ``copy``: before the switch the live database must stay untouched (the old release still runs
    on it and may be rolled back to), so a copy is opened: that runs this release's migrations on
    the copy and SQLite's integrity check on the result. After the switch (``copy=False``,
    ``kiosk release confirm``) the live file is opened: the app has migrated it by then.
    ``root`` is the staging root (DESTDIR).
    """
    import importlib
    import os
    import shutil
    import tempfile

    problems: list[str] = []
    if imports:
        os.environ.setdefault("KIVY_NO_ARGS", "1")
        os.environ.setdefault("KIVY_HOME", os.path.join(tempfile.gettempdir(), "kiosk-selfcheck-kivy"))
        for name in SELF_CHECK_IMPORTS:
            try:
                importlib.import_module(name)
            except Exception as exc:  # noqa: BLE001 - any import failure is the finding
                problems.append(f"cannot import {name}: {type(exc).__name__}: {exc}")
    data_dir = Path(root + str(cfg.store.data_dir)) if root else Path(cfg.store.data_dir)
    key_file = Path(root + str(cfg.store.key_file)) if root else Path(cfg.store.key_file)
    db = data_dir / DB_NAME
    if not db.exists():
        return problems  # a new kiosk: the app creates the database at its first start
    try:
        if copy:
            with tempfile.TemporaryDirectory(prefix="kiosk-selfcheck-") as tmp:
                import sqlite3

                src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                dst = sqlite3.connect(Path(tmp) / DB_NAME)
                src.backup(dst)  # a consistent copy, WAL included, without writing to the live file
                src.close()
                dst.close()
                anchor = db.with_name(DB_NAME + ".audit-anchor")
                if anchor.exists():
                    shutil.copy2(anchor, Path(tmp) / anchor.name)
                problems += _check_store(Path(tmp), key_file)
        else:
            from locker.db import Database

            with Database(db) as database:
                log.debug("database %s at schema %s", db, database.version)
    except Exception as exc:  # noqa: BLE001 - reported as a finding, the install stops on it
        problems.append(f"database {db}: {type(exc).__name__}: {exc}")
    return problems


def _check_store(data_dir: Path, key_file: Path) -> list[str]:
    """This release's migrations on the copy, then SQLite's own integrity check of the result."""
    from locker.db import Database

    with Database(data_dir / "kiosk.sqlite3") as db:
        result = [str(r[0]) for r in db.query("PRAGMA integrity_check")]
    return [] if result == ["ok"] else [f"database integrity: {'; '.join(result[:5])}"]
