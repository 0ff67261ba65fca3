"""One version, in one place: kiosk/__init__.py; the package metadata, the CLI and the log follow it."""

from __future__ import annotations

import logging
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from kiosk import __version__
from kiosk.release import log_start, version_info

ROOT = Path(__file__).resolve().parent.parent


def test_pyproject_takes_the_version_from_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "kiosk.__version__"}
    assert __version__.count(".") == 2


def test_kiosk_version_prints_it() -> None:
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "--version"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"kiosk {__version__}"


@pytest.mark.parametrize("level", [logging.WARNING, logging.INFO])
def test_the_start_line_shows_at_any_configured_level(level: int, caplog: pytest.LogCaptureFixture) -> None:
    root = logging.getLogger()
    old = root.level
    root.setLevel(level)
    try:
        with caplog.at_level(level):
            log_start("app")
    finally:
        root.setLevel(old)
    lines = [r for r in caplog.records if r.name == "kiosk.release"]
    assert lines and lines[0].levelno >= level and f"kiosk app {__version__} starting" in lines[0].getMessage()


def test_version_info_for_the_heartbeat() -> None:
    info = version_info()
    assert info["version"] == __version__ and info["release"] == "source" and info["schema"] >= 1
