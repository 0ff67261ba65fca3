"""Reproducible installs: the lock files pin every package with hashes and follow pyproject.toml.

A stale lock (pyproject.toml changed after the last `make lock`) fails set-up in CI and is refused
by `make install`, each naming `make lock`; a developer's set-up only warns.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {name: ROOT / "requirements" / f"{name}.lock" for name in ("dev", "kiosk", "build")}
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+) \\$")


def pins(lock: Path) -> dict[str, tuple[str, int]]:
    """package → (version, number of hashes)."""
    out: dict[str, tuple[str, int]] = {}
    name = ""
    for line in lock.read_text().splitlines():
        m = PIN.match(line)
        if m:
            name = m[1].lower().replace("_", "-")
            out[name] = (m[2], 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            version, n = out[name]
            out[name] = (version, n + 1)
        elif line and not line.startswith(" "):
            name = ""
    return out


def test_every_package_is_pinned_with_hashes_including_the_face_check() -> None:
    kiosk, dev = pins(LOCKS["kiosk"]), pins(LOCKS["dev"])
    for lock in (kiosk, dev):
        assert all(n >= 1 for _, n in lock.values()), [k for k, (_, n) in lock.items() if n == 0]
        assert lock["face-recognition"][0] == "1.3.0"
        for needed in ("dlib-bin", "face-recognition-models", "opencv-python-headless", "kivy", "numpy",
                       "chinesecalendar", "setuptools", "wheel"):
            assert needed in lock, needed
        assert "opencv-python" not in lock and "dlib" not in lock  # no Qt build, no 20-minute dlib build
    assert {k: v for k, (v, _) in kiosk.items()} == {k: dev[k][0] for k in kiosk}  # same versions in both
    assert "pytest" in dev and "pytest" not in kiosk  # test tools stay off the kiosk
    for text in (LOCKS["kiosk"].read_text(), LOCKS["dev"].read_text()):
        assert "--index-url" not in text and "--extra-index-url" not in text and "file://" not in text


def test_the_locks_were_made_from_the_current_pyproject() -> None:
    """Fails after a dependency change until `make lock` is run (and the locks committed)."""
    proc = subprocess.run(["bash", "-c", "source scripts/lock_inputs.sh && for f in requirements/*.lock; do "
                           "lock_is_current $f || echo stale $f; done"], cwd=ROOT, capture_output=True, text=True)
    assert proc.stdout == "", f"{proc.stdout.strip()}: run `make lock`"


@pytest.fixture
def stale_tree(tmp_path: Path) -> Path:
    """scripts/, requirements/ and a pyproject.toml with one more dependency than the lock knows."""
    for folder in ("scripts", "requirements", "kiosk"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    text = (ROOT / "pyproject.toml").read_text()
    added = text.replace("dependencies = [\n", 'dependencies = [\n  "left-pad>=1",\n', 1)
    assert added != text
    (tmp_path / "pyproject.toml").write_text(added)
    return tmp_path


def test_setup_in_ci_refuses_a_stale_lock_and_names_make_lock(stale_tree: Path) -> None:
    proc = subprocess.run(["bash", "scripts/setup.sh"], cwd=stale_tree, capture_output=True, text=True,
                          env={**os.environ, "CI": "1"}, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "requirements/dev.lock is stale" in proc.stdout and "make lock" in proc.stdout
    assert not (stale_tree / ".venv").exists()  # nothing half-installed


def test_make_install_refuses_a_stale_lock(stale_tree: Path, tmp_path: Path) -> None:
    proc = subprocess.run(["bash", "scripts/install.sh", "install"], cwd=stale_tree, capture_output=True, text=True,
                          env={**os.environ, "DESTDIR": str(tmp_path / "root"), "KIOSK_INSTALL_DEPS": "1"},
                          timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "requirements/kiosk.lock is stale against pyproject.toml" in proc.stdout and "make lock" in proc.stdout
    releases = tmp_path / "root/opt/kiosk/releases"
    assert not releases.exists() or not any(releases.iterdir())  # no release built from it
