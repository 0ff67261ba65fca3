"""A kiosk that cannot start shows the out-of-service screen instead of crashing into a restart loop.

Each case runs the real `kiosk app` start (``run_app`` building ``KioskRuntime`` itself) in its own
process, headless, through tests/ui_support/start_failure_run.py, on real files broken from outside:
a SQLite database whose header is overwritten, a key file holding another key, the data folder not
there yet (a partition not mounted at boot). Checked as a resident, staff and systemd meet it: the
words on screen, the CRITICAL line naming the cause, READY=1 with a STATUS= naming it on a real
$NOTIFY_SOCKET, the staff alert arriving at a real HTTP receiver (apprise's json://), the damaged
files byte-for-byte untouched, and a transient failure turning into a restart once it passed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alert_support import AlertReceiver
from runtime_support import ROOT, write_config

from kiosk.config import load_config
from locker.integrity import backup_database
from locker.store import DB_NAME, Store

SCRIPT = ROOT / "tests" / "ui_support" / "start_failure_run.py"


class NotifySocket:
    """The receiving end of $NOTIFY_SOCKET: every sd_notify datagram the app sent."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: list[list[str]] = []

    def received(self) -> list[list[str]]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode(errors="replace").splitlines())
            except BlockingIOError:
                return self.messages


@pytest.fixture
def alerts() -> Iterator[AlertReceiver]:
    with AlertReceiver() as server:
        yield server


def kiosk_with_data(tmp: Path, alert_url: str | None = None) -> tuple[Path, object]:
    """A simulator-mode kiosk whose store was opened once (key made, database written)."""
    config = write_config(tmp, pcsc=False)
    if alert_url:
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace("urls = []", f'urls = ["{alert_url}"]', 1), encoding="utf-8")
    cfg = load_config(config)
    Store.open(cfg.store.data_dir, cfg.store.key_file, create_key=True).close()
    return config, cfg


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def start_app(tmp: Path, config: Path, *extra: str) -> tuple[subprocess.Popen[str], Path, NotifySocket]:
    notify = NotifySocket(tmp / "notify.sock")
    seen = tmp / "seen.json"
    (tmp / "run").mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SDL_VIDEODRIVER": "offscreen", "KIVY_NO_ARGS": "1",
           "NOTIFY_SOCKET": str(tmp / "notify.sock"), "RUNTIME_DIRECTORY": str(tmp / "run")}
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(config), str(seen), *extra], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, seen, notify


def run_app_once(tmp: Path, config: Path) -> tuple[dict, str, NotifySocket, int]:
    proc, seen, notify = start_app(tmp, config)
    out, err = proc.communicate(timeout=120)
    assert seen.exists(), err[-4000:]
    return json.loads(seen.read_text(encoding="utf-8")), err, notify, proc.returncode


def status_lines(notify: NotifySocket) -> list[list[str]]:
    return [m for m in notify.received() if any(line.startswith("STATUS=") for line in m)]


@pytest.mark.timeout(180)
def test_a_database_with_its_header_overwritten_shows_out_of_service(tmp_path: Path, alerts: AlertReceiver) -> None:
    config, cfg = kiosk_with_data(tmp_path, alerts.url)
    db = cfg.store.data_dir / DB_NAME
    backup = backup_database(db)  # as every sound start makes one
    with db.open("r+b") as f:  # "SQLite format 3\0" and the page size gone: nothing can open it
        f.write(b"\xde\xad\xbe\xef" * 25)
    before = digest(cfg.store.data_dir)

    seen, log, notify, rc = run_app_once(tmp_path, config)

    assert rc == 0  # the app ran and was closed; no traceback, no crash for systemd to restart
    assert seen["screen"] == "out_of_service"
    assert "暂停服务，请联系工作人员" in seen["zh"] and "暂不可办理：全部自助业务" in seen["zh"]
    assert "数据库无法打开" in seen["zh"] and "kiosk doctor" in seen["zh"]  # staff's reason, no details
    assert "工作人员已收到通知" in seen["zh"]  # the alert went out, so the screen may say so
    assert "Out of service — please contact staff" in seen["en"] and "database cannot be opened" in seen["en"]
    assert str(db) not in seen["zh"] + seen["en"]  # paths and messages stay in the log
    critical = [line for line in log.splitlines() if " CRITICAL " in line]
    assert critical and "file is not a database" in critical[0] and str(db) in critical[0], log
    assert str(backup) in critical[0] and f"{db}.damaged" in critical[0]  # the fix: restore, keep the file
    assert "Traceback" not in log

    ready = [m for m in notify.received() if "READY=1" in m]
    assert ready, notify.messages
    status = next(line for line in ready[0] if line.startswith("STATUS="))
    assert "OUT OF SERVICE" in status and "database" in status and "file is not a database" in status

    assert len(alerts.received) == 1, alerts.received
    alert = alerts.received[0]
    assert "kiosk.start_failed" in alert["message"] and "file is not a database" in alert["message"]
    assert "could not start" in alert["title"] and str(backup) in alert["message"]

    doctor = subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(config), "doctor", "--no-devices"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    line = next(ln for ln in doctor.stdout.splitlines() if ln.startswith("FAIL database"))
    assert "file is not a database" in line and doctor.returncode != 0
    assert f"copy the newest backup {backup} to {db}" in doctor.stdout, doctor.stdout

    assert digest(cfg.store.data_dir) == before  # the damaged file kept as it was: evidence, restore source
    assert seen["marker"] == status[len("STATUS="):]  # for `kiosk release confirm` while it runs
    assert not (tmp_path / "run" / "start-failed").exists()  # and gone when the app stopped


@pytest.mark.timeout(180)
def test_a_wrong_key_file_shows_out_of_service_and_logs_the_key_to_restore(tmp_path: Path) -> None:
    config, cfg = kiosk_with_data(tmp_path)  # no alert URL: the screen must not claim staff were told
    from locker.keys import key_id

    right = key_id(cfg.store.key_file.read_bytes())
    cfg.store.key_file.write_bytes(os.urandom(32))  # another kiosk's key, or a botched restore
    before, key_before = digest(cfg.store.data_dir), cfg.store.key_file.read_bytes()

    seen, log, notify, rc = run_app_once(tmp_path, config)

    assert rc == 0 and seen["screen"] == "out_of_service"
    assert "暂停服务，请联系工作人员" in seen["zh"] and "数据密钥不对或缺失" in seen["zh"]
    assert "工作人员已收到通知" not in seen["zh"] and "给您带来不便" in seen["zh"]
    critical = [line for line in log.splitlines() if " CRITICAL " in line]
    assert critical and f"restore the backup of key id {right}" in critical[0], log
    assert "no staff alert sent" in log
    assert any("start failed (key)" in line for m in status_lines(notify) for line in m), notify.messages
    assert digest(cfg.store.data_dir) == before and cfg.store.key_file.read_bytes() == key_before


@pytest.mark.timeout(180)
def test_data_folder_missing_at_boot_is_retried_and_the_app_restarts_once_it_is_there(tmp_path: Path) -> None:
    config, cfg = kiosk_with_data(tmp_path)
    data = cfg.store.data_dir
    aside = data.with_name("data.unmounted")
    data.rename(aside)
    data.write_text("")  # the mount point's place taken: the folder cannot be created or opened (OSError)

    proc, seen_path, notify = start_app(tmp_path, config, "0.5")
    try:
        end = time.monotonic() + 60
        while not seen_path.exists():
            assert proc.poll() is None and time.monotonic() < end, proc.communicate()[1][-4000:]
            time.sleep(0.1)
        seen = json.loads(seen_path.read_text(encoding="utf-8"))
        assert "暂停服务，请联系工作人员" in seen["zh"] and "每 30 秒自动重试" in seen["zh"]
        assert proc.poll() is None  # still showing it, re-checking
        data.unlink()
        aside.rename(data)  # the partition is mounted
        _out, log = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 75, log[-4000:]  # EX_TEMPFAIL: systemd's Restart=always starts the normal app
    assert "CRITICAL" in log and "storage" in log and "can start now" in log
    assert any("start failed (storage" in line for m in status_lines(notify) for line in m), notify.messages
    with Store.open(data, cfg.store.key_file) as store:  # nothing lost on the way
        assert store.db.query_one("SELECT key_id FROM key_meta") is not None


def test_a_programming_error_at_start_still_crashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the expected failures become the out-of-service screen; a bug must be seen, not hidden."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kiosk import app as kiosk_app
    from kiosk.runtime import KioskRuntime

    def broken(self: KioskRuntime) -> KioskRuntime:
        raise TypeError("a bug")

    monkeypatch.setattr(KioskRuntime, "start", broken)
    cfg = load_config(write_config(tmp_path, pcsc=False))
    with pytest.raises(TypeError):
        kiosk_app.run_app(cfg, fullscreen=False, orientation=None)


def test_start_failures_are_sorted_into_what_staff_must_do() -> None:
    import sqlite3

    from devices.errors import ConfigError
    from kiosk.start_failure import classify
    from locker.errors import KeyFileError, StoreError

    def raised(exc: BaseException, cause: BaseException | None = None) -> BaseException:
        try:
            raise exc from cause
        except BaseException as e:  # the exception with its chain, as the start raises it
            return e

    assert classify(raised(StoreError("x failed to open"), sqlite3.DatabaseError("file is not a database"))).kind \
        == "database"
    assert classify(raised(KeyFileError("wrong key"))).kind == "key"
    storage = classify(raised(FileExistsError(17, "File exists")))
    assert storage.kind == "storage" and storage.transient
    assert classify(raised(StoreError("unable"), sqlite3.OperationalError("unable to open database file"))).transient
    assert not classify(raised(ConfigError("demo staff account"))).transient


def release_confirm(config: Path, dest: Path, run_dir: Path) -> subprocess.CompletedProcess[str]:
    """kiosk.service's ExecStartPost, against a staging root (DESTDIR) holding the release state."""
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--config", str(config), "release", "confirm", "--no-imports",
         "--root", str(dest)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "RUNTIME_DIRECTORY": str(run_dir)},
    )


def test_release_confirm_leaves_the_out_of_service_screen_up_but_never_confirms_a_release_that_did_not_start(
    tmp_path: Path,
) -> None:
    """ExecStartPost failing makes systemd kill the app: only a pending release that did not start may fail it."""
    config, cfg = kiosk_with_data(tmp_path)
    live = Path(str(tmp_path / "root") + str(cfg.store.data_dir)) / DB_NAME  # the database as --root sees it
    live.parent.mkdir(parents=True)
    shutil.copy2(cfg.store.data_dir / DB_NAME, live)
    with live.open("r+b") as f:
        f.write(b"\xde\xad\xbe\xef" * 25)
    dest, run_dir = tmp_path / "root", tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "start-failed").write_text("OUT OF SERVICE: start failed (database): file is not a database\n")

    ordinary = release_confirm(config, dest, run_dir)  # an ordinary boot: nothing pending
    assert ordinary.returncode == 0, ordinary.stdout + ordinary.stderr
    assert "WARN database" in ordinary.stdout and "file is not a database" in ordinary.stdout

    (dest / "opt/kiosk/releases/0.9.1").mkdir(parents=True)
    (dest / "opt/kiosk/current").symlink_to("releases/0.9.1")
    pending = dest / "var/lib/kiosk/release-pending.json"
    pending.parent.mkdir(parents=True)
    pending.write_text(json.dumps({"release": "0.9.1", "from": "0.9.0", "starts": 1}))
    (live.parent / DB_NAME).write_bytes((cfg.store.data_dir / DB_NAME).read_bytes())  # a sound database…
    refused = release_confirm(config, dest, run_dir)  # …but the new release's app did not start (the marker)
    assert refused.returncode == 1 and "the app did not start: OUT OF SERVICE" in refused.stdout, refused.stdout
    assert pending.exists()  # still pending: the guard rolls it back after its starts

    (run_dir / "start-failed").unlink()  # the app started
    confirmed = release_confirm(config, dest, run_dir)
    assert confirmed.returncode == 0 and "release 0.9.1 confirmed" in confirmed.stdout, confirmed.stdout
    assert not pending.exists()
