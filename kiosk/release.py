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
