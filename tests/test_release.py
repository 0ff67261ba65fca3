"""Side-by-side releases under DESTDIR: update, confirm, rollback by hand and by itself, refusals.

Each release is the real scripts/install.sh run on a copy of this source tree whose version (and,
for some, database schema) was changed the way a later release would change it. The releases get
their own virtualenv in the staging root; their dependencies come from this project's .venv (a
.pth file, KIOSK_DEPS_FROM) so the self-check's imports are real without downloading anything.
The database is a real SQLite file in the staged /var/lib/kiosk, opened by each release's own code.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sysconfig
from pathlib import Path

import pytest

from locker import schema

ROOT = Path(__file__).resolve().parent.parent
SITE = sysconfig.get_paths()["purelib"]  # this .venv's packages: the releases' dependencies
DB = "var/lib/kiosk/data/kiosk.sqlite3"
BREAKING_NOTE = "0.2.2 stores case states as numbers; 0.2.1 and older misread them"

pytestmark = pytest.mark.timeout(900)


def source_tree(dest: Path, version: str, *, migrations: tuple[str, ...] = (), breaking: bool = False,
                broken_migration: bool = False) -> Path:
    """This source tree (tracked and new files, as `make install` would take them), as release ``version``."""
    dest.mkdir(parents=True)
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout
    names = [n for n in files.decode().split("\0") if n and (ROOT / n).is_file()]
    subprocess.run(["tar", "-cf", "-", "--null", "-T", "-"], cwd=ROOT, input="\0".join(names).encode(),
                   stdout=open(dest / "src.tar", "wb"), check=True)  # noqa: SIM115
    subprocess.run(["tar", "-xf", "src.tar"], cwd=dest, check=True)
    (dest / "src.tar").unlink()
    init = dest / "kiosk" / "__init__.py"
    init.write_text(re.sub(r'__version__ = ".*"', f'__version__ = "{version}"', init.read_text()))
    sch = dest / "locker" / "schema.py"
    text = sch.read_text()
    added = "".join(f"    ({stmt!r},),\n" for stmt in migrations)
    if broken_migration:
        added += "    ('THIS IS NOT SQL',),\n"
    text = text.replace("\n)\n\nLATEST = len(MIGRATIONS)", f"\n{added})\n\nLATEST = len(MIGRATIONS)", 1)
    if breaking:
        text = text.replace("BREAKING: dict[int, str] = {}",
                            f"BREAKING: dict[int, str] = {{LATEST: {BREAKING_NOTE!r}}}", 1)
    sch.write_text(text)
    return dest


def install(src: Path, dest: Path, *, ok: bool = True) -> str:
    proc = subprocess.run(["bash", str(src / "scripts" / "install.sh"), "install"],
                          env={**os.environ, "DESTDIR": str(dest), "KIOSK_INSTALL_DEPS": "0", "KIOSK_DEPS_FROM": SITE},
                          capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert (proc.returncode == 0) == ok, out
    return out


def kiosk(dest: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The current release's own `kiosk` command, as the units run it (/opt/kiosk/venv → current)."""
    return subprocess.run([str(dest / "opt/kiosk/venv/bin/kiosk"), "--config", str(dest / "etc/kiosk/kiosk.toml"),
                           *args, "--root", str(dest)], capture_output=True, text=True, timeout=300, cwd="/")


def guard(dest: Path) -> str:
    proc = subprocess.run(["python3", str(dest / "opt/kiosk/bin/kiosk-release"), "--root", str(dest), "guard"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def current(dest: Path) -> str:
    return os.readlink(dest / "opt/kiosk/current")


def release_python(dest: Path, release: str) -> Path:
    return dest / "opt/kiosk/releases" / release / "venv/bin/python"


def open_with(dest: Path, release: str) -> subprocess.CompletedProcess[str]:
    """Open the live database with a release's own code and read the accepted case back."""
    code = ("import sys; from locker.db import Database\n"
            "with Database(sys.argv[1]) as db:\n"
            "    print(db.version, [r['title'] for r in db.query('SELECT title FROM outbox')])")
    return subprocess.run([str(release_python(dest, release)), "-c", code, str(dest / DB)], capture_output=True,
                          text=True, timeout=120, cwd="/")


def user_version(dest: Path) -> int:
    conn = sqlite3.connect(dest / DB)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def accept_a_case(dest: Path, release: str) -> None:
    code = ("import sys; from locker.db import Database\n"
            "with Database(sys.argv[1]) as db:\n"
            "    db.execute(\"INSERT INTO outbox (kind, title, body, target, created_at, next_attempt_at)"
            " VALUES ('staff', 'case 0417 accepted', 'b', 'x', 0, 0)\")")
    proc = subprocess.run([str(release_python(dest, release)), "-c", code, str(dest / DB)], capture_output=True,
                          text=True, timeout=120, cwd="/")
    assert proc.returncode == 0, proc.stderr


def test_update_confirm_rollback_by_hand_and_by_itself(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    a = source_tree(tmp_path / "a", "0.2.0")
    b = source_tree(tmp_path / "b", "0.2.1", migrations=("CREATE TABLE release_notes_seen (id TEXT)",))

    install(a, dest)
    assert current(dest) == "releases/0.2.0"
    assert (dest / "opt/kiosk/venv/bin/kiosk").exists() and (dest / "opt/kiosk/src/kiosk/cli.py").is_file()
    accept_a_case(dest, "0.2.0")
    assert kiosk(dest, "release", "confirm").returncode == 0

    out = install(b, dest)  # the update: self-check on a copy, switch, then the live database forward
    assert "release 0.2.1 is current; 0.2.0 is kept for kiosk rollback" in out, out
    assert current(dest) == "releases/0.2.1"
    assert os.readlink(dest / "opt/kiosk/previous") == "releases/0.2.0"
    assert user_version(dest) == schema.LATEST + 1
    ver = subprocess.run([str(dest / "opt/kiosk/venv/bin/kiosk"), "--version"], capture_output=True, text=True)
    assert ver.stdout.strip() == "kiosk 0.2.1"

    # by hand: back to 0.2.0, which still opens the migrated database and finds the accepted case
    back = kiosk(dest, "rollback")
    assert back.returncode == 0 and "rolled back from 0.2.1 to 0.2.0" in back.stdout, back.stdout + back.stderr
    assert current(dest) == "releases/0.2.0"
    opened = open_with(dest, "0.2.0")
    assert opened.returncode == 0 and "case 0417 accepted" in opened.stdout, opened.stderr
    again = kiosk(dest, "rollback")
    assert again.returncode == 1 and "no previous release" in again.stderr

    # by itself: 0.2.1 again, and it never confirms healthy — the fourth start goes back to 0.2.0
    out = install(b, dest)
    assert "release 0.2.1 is already installed (same source)" in out and current(dest) == "releases/0.2.1"
    for n in (1, 2, 3):
        assert f"start {n} of 3" in guard(dest)
        assert current(dest) == "releases/0.2.1"
    assert "rolled back from 0.2.1 to 0.2.0" in guard(dest)
    assert current(dest) == "releases/0.2.0"
    assert guard(dest) == ""  # nothing pending any more: ordinary starts

    # and an update that confirms stays: its self-check passes after the (simulated) restart
    install(b, dest)
    guard(dest)
    confirmed = kiosk(dest, "release", "confirm")
    assert confirmed.returncode == 0 and "release 0.2.1 confirmed" in confirmed.stdout, confirmed.stdout
    for _ in range(5):
        assert guard(dest) == ""
    assert current(dest) == "releases/0.2.1"
    history = (dest / "var/lib/kiosk/release-history.log").read_text()
    assert "rolled back from 0.2.1 to 0.2.0 (not confirmed healthy after 3 starts)" in history


def test_breaking_migration_refuses_rollback_and_a_failing_release_is_never_switched_to(tmp_path: Path) -> None:
    dest = tmp_path / "root"
    a = source_tree(tmp_path / "a", "0.2.0")
    c = source_tree(tmp_path / "c", "0.2.2", migrations=("ALTER TABLE outbox ADD COLUMN state_no INTEGER",),
                    breaking=True)
    d = source_tree(tmp_path / "d", "0.2.3", migrations=("ALTER TABLE outbox ADD COLUMN state_no INTEGER",),
                    breaking=True, broken_migration=True)

    install(a, dest)
    accept_a_case(dest, "0.2.0")
    install(c, dest)
    assert current(dest) == "releases/0.2.2" and user_version(dest) == schema.LATEST + 1

    refused = kiosk(dest, "rollback")
    assert refused.returncode == 1, refused.stdout
    assert "cannot roll back from 0.2.2 to 0.2.0" in refused.stderr and BREAKING_NOTE in refused.stderr
    assert current(dest) == "releases/0.2.2"
    assert BREAKING_NOTE in open_with(dest, "0.2.0").stderr  # 0.2.0 itself refuses the file with that note

    for _ in range(3):
        guard(dest)
    assert "automatic rollback refused" in guard(dest) and current(dest) == "releases/0.2.2"

    # 0.2.3's migration fails on the copy: nothing switches, the live database is untouched
    before = (dest / DB).read_bytes()
    out = install(d, dest, ok=False)
    assert "release 0.2.3 failed its self-check; still running releases/0.2.2" in out, out
    assert "migration" in out
    assert current(dest) == "releases/0.2.2" and (dest / DB).read_bytes() == before
    status = json.loads(subprocess.run(["python3", str(dest / "opt/kiosk/bin/kiosk-release"), "--root", str(dest),
                                        "status"], capture_output=True, text=True, check=True).stdout)
    assert status["current"] == "0.2.2" and status["previous"] == "0.2.0"
