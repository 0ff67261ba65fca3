"""Test helpers for the back-office delivery: the real Django back office in a subprocess, a TCP
proxy that cuts connections, and a kiosk store with committed cases holding real PDFs.

The back office runs as ``python -m backoffice runserver --noreload`` on a free port, on a database of
its own in the test PostgreSQL when scripts/test.sh runs one (``BACKOFFICE_TEST_DB_*``), else SQLite:
real sockets, real HTTP, the real views and storage. What the tests check on its side they read
with ``python -m backoffice shell -c`` (the same database, another process), never by importing
Django into the test process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import img2pdf
import numpy as np

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(cond: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# A Django shell that stays up: each request is one JSON line of code, each answer one JSON line.
_REPL = """
import contextlib, io, json, sys, traceback
import django
django.setup()
from django.db import connections
for line in sys.stdin:
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            exec(json.loads(line), {})
        answer = {"ok": True, "out": buf.getvalue()}
    except Exception:
        answer = {"ok": False, "out": buf.getvalue() + traceback.format_exc()}
    connections.close_all()
    sys.__stdout__.write(json.dumps(answer) + "\\n")
    sys.__stdout__.flush()
"""


class Backoffice:
    """The real back office (Django on SQLite) as its own process; start/stop/kill at will."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / "backoffice.log"
        outside = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_DB_")}
        self.env = {**outside, "BACKOFFICE_SQLITE_PATH": str(root / "backoffice.sqlite3"),
                    "DJANGO_SETTINGS_MODULE": "backoffice.settings", "BACKOFFICE_LOG_LEVEL": "INFO",
                    "PYTHONPATH": str(REPO)}
        # Under scripts/test.sh a real PostgreSQL runs (BACKOFFICE_TEST_DB_*): each back office here gets
        # a database of its own on it. Without one, SQLite.
        self.pg_database: str | None = None
        if os.environ.get("BACKOFFICE_TEST_DB_NAME"):
            self.pg_database = f"sync_{uuid.uuid4().hex[:12]}"
            self._pg(f'CREATE DATABASE "{self.pg_database}"')
            for key in ("HOST", "PORT", "USER", "PASSWORD"):
                if os.environ.get(f"BACKOFFICE_TEST_DB_{key}"):
                    self.env[f"BACKOFFICE_DB_{key}"] = os.environ[f"BACKOFFICE_TEST_DB_{key}"]
            self.env["BACKOFFICE_DB_NAME"] = self.pg_database
        self.proc: subprocess.Popen[bytes] | None = None
        self._repl: subprocess.Popen[str] | None = None
        self.manage("migrate", "--noinput")

    def manage(self, *args: str) -> str:
        done = subprocess.run([PY, "-m", "backoffice", *args], cwd=REPO, env=self.env, capture_output=True,
                              text=True, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"backoffice {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def shell(self, code: str) -> Any:
        """Run Python in the back office's Django (one long-lived process); its last printed line, as JSON."""
        if self._repl is None or self._repl.poll() is not None:
            self._repl = subprocess.Popen([PY, "-c", _REPL], cwd=REPO, env=self.env, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, text=True)
        assert self._repl.stdin is not None and self._repl.stdout is not None
        self._repl.stdin.write(json.dumps(code) + "\n")
        self._repl.stdin.flush()
        answer = json.loads(self._repl.stdout.readline() or '{"ok": false, "out": "back office shell died"}')
        if not answer["ok"]:
            raise AssertionError(f"back office shell failed:\n{answer['out']}")
        return json.loads(answer["out"].strip().splitlines()[-1])

    def new_kiosk(self, kiosk_id: str = "qidu-01", town: str = "qidu") -> str:
        """A town and a kiosk in it; returns the one-time enrol code."""
        return str(self.shell(
            "import json\n"
            "from backoffice.accounts.actions import ensure_town\n"
            "from backoffice.kiosks.actions import create_kiosk\n"
            f"t = ensure_town({town!r}, '七都镇')\n"
            f"k, code = create_kiosk(kiosk_id={kiosk_id!r}, name='七都便民服务中心', town=t, village='七都')\n"
            "print(json.dumps(code))"))

    def new_code(self, kiosk_id: str) -> str:
        return str(self.shell(
            "import json\nfrom backoffice.kiosks.models import Kiosk\n"
            "from backoffice.kiosks.actions import issue_enrol_code\n"
            f"print(json.dumps(issue_enrol_code(Kiosk.objects.get(kiosk_id={kiosk_id!r}))))"))

    def revoke(self, kiosk_id: str) -> None:
        self.shell("import json\nfrom backoffice.kiosks.models import Kiosk\nfrom backoffice.kiosks.actions import "
                   f"revoke\nrevoke(Kiosk.objects.get(kiosk_id={kiosk_id!r}))\nprint(json.dumps(1))")

    def cases(self) -> dict[str, dict[str, Any]]:
        """Every case the back office holds: its state, files (received/complete/sha), history, events."""
        return dict(self.shell(
            "import json, hashlib\n"
            "from django.core.files.storage import default_storage\n"
            "from backoffice.cases.models import Case\n"
            "out = {}\n"
            "for c in Case.objects.all():\n"
            "    files = {}\n"
            "    for f in c.files.all():\n"
            "        sha = None\n"
            "        if f.complete:\n"
            "            with default_storage.open(f.blob_name) as fh:\n"
            "                sha = hashlib.sha256(fh.read()).hexdigest()\n"
            "        files[f.file_id] = {'size': f.size, 'received': f.received, 'complete': f.complete,"
            " 'sha256': f.sha256, 'stored_sha256': sha, 'chunks': f.chunks.count(), 'pages': f.page_count}\n"
            "    hist = [h.action for h in c.history.order_by('id')] if hasattr(c, 'history') else []\n"
            "    out[c.case_code] = {'state': c.state, 'name_masked': c.name_masked, 'files': files,"
            " 'history': hist, 'deposited_at': c.deposited_at.timestamp(), 'received_at': c.received_at.timestamp(),"
            " 'clock_skew_s': c.clock_skew_s, 'face_distance': c.face_distance, 'frames': c.face_frames_judged,"
            " 'service': c.service_name_zh, 'days': c.promised_working_days, 'compartment': c.compartment_id,"
            " 'papers': {p.paper_id: p.status for p in c.papers.all()}, 'alert': c.alert,"
            " 'fingerprint': c.fingerprint_enrolled, 'receipt_printed': c.receipt_printed}\n"
            "print(json.dumps(out))"))

    def events(self) -> list[dict[str, Any]]:
        return list(self.shell(
            "import json\nfrom backoffice.cases.models import KioskEventRecord as E\n"
            "print(json.dumps([{'event_id': e.event_id, 'kind': e.kind, 'case': e.case.case_code if e.case else None}"
            " for e in E.objects.order_by('id')]))"))

    def refusals(self) -> list[dict[str, Any]]:
        return list(self.shell(
            "import json\nfrom backoffice.kiosks.models import AuthRefusal as R\n"
            "print(json.dumps([{'code': r.code} for r in R.objects.order_by('id')]))"))

    def clerk(self, username: str = "qidu-clerk", town: str = "qidu") -> Any:
        """A clerk of ``town`` logged in through the login page: an opener that keeps the session cookie."""
        import http.cookiejar
        import re
        import urllib.parse
        import urllib.request

        password = "clerk-password-1"
        self.shell("import json\nfrom backoffice.accounts.actions import ensure_town, ensure_user\n"
                   f"ensure_user({username!r}, town=ensure_town({town!r}, {town!r}), role='clerk', "
                   f"password={password!r})\nprint(json.dumps(1))")
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(f"{self.url}/login/", timeout=30).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, page[:500]
        form = urllib.parse.urlencode({"username": username, "password": password,
                                       "csrfmiddlewaretoken": token.group(1)}).encode()
        req = urllib.request.Request(f"{self.url}/login/", data=form, headers={"Referer": f"{self.url}/login/"})
        landed = opener.open(req, timeout=30)
        assert "/login/" not in landed.geturl(), "the clerk could not log in"
        return opener

    def start(self) -> Backoffice:
        assert self.proc is None
        log = open(self.log, "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen([PY, "-m", "backoffice", "runserver", "--noreload", f"127.0.0.1:{self.port}"],
                                     cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"back office exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
            return False

        wait_until(up, 60, "the back office to listen")
        return self

    @staticmethod
    def _pg(sql: str) -> None:
        import psycopg

        env = os.environ.get
        with psycopg.connect(dbname="postgres", host=env("BACKOFFICE_TEST_DB_HOST") or None,
                             port=env("BACKOFFICE_TEST_DB_PORT") or None,
                             user=env("BACKOFFICE_TEST_DB_USER", "postgres"),
                             password=env("BACKOFFICE_TEST_DB_PASSWORD") or None, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def close(self) -> None:
        """Stop the server and the shell; drop the PostgreSQL database made for this back office."""
        self.stop()
        self.close_shell()
        if self.pg_database is not None:
            self._pg(f'DROP DATABASE IF EXISTS "{self.pg_database}" WITH (FORCE)')
            self.pg_database = None

    def close_shell(self) -> None:
        if self._repl is not None:
            self._repl.kill()
            self._repl.wait(5)
            self._repl = None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


class CutProxy:
    """A TCP proxy in front of the back office that can cut a connection in the middle.

    ``cut_after_upstream``: close both sides once this many request bytes went through (a cable
    pulled during an upload). ``drop_responses``: close the kiosk's side as soon as the first byte
    of the next N answers arrives (the back office did the work, the kiosk never heard).
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cut_after_upstream: int | None = None
        self.drop_responses = 0
        self.upstream_bytes = 0
        self.cuts = 0
        self._lock = threading.Lock()
        self._srv = socket.create_server(("127.0.0.1", self.port))
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self._srv.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._srv.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=30)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, up: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self._lock:
                    if up and self.cut_after_upstream is not None:
                        room = self.cut_after_upstream - self.upstream_bytes
                        if room <= len(data):
                            dst.sendall(data[:max(room, 0)])
                            self.upstream_bytes += max(room, 0)
                            self.cut_after_upstream = None
                            self.cuts += 1
                            raise ConnectionAbortedError("cut")
                    if up:
                        self.upstream_bytes += len(data)
                    if not up and self.drop_responses > 0:
                        self.drop_responses -= 1
                        self.cuts += 1
                        raise ConnectionAbortedError("answer dropped")
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


# -- the kiosk side ---------------------------------------------------------------------------------------


def make_pdf(approx_bytes: int, seed: int) -> bytes:
    """A real one-page PDF of about ``approx_bytes`` (noise JPEG: it does not compress)."""
    rng = np.random.default_rng(seed)
    side = max(64, int((approx_bytes / 1.2) ** 0.5 / 1.7))
    for _ in range(6):
        img = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert ok
        if len(jpg) >= approx_bytes * 0.9:
            break
        side = int(side * (approx_bytes / len(jpg)) ** 0.5 * 1.05)
    return bytes(img2pdf.convert(jpg.tobytes()))


def card_photo_png() -> bytes:
    img = np.full((126, 102, 3), 200, np.uint8)
    cv2.circle(img, (51, 55), 30, (90, 120, 160), -1)
    ok, png = cv2.imencode(".png", img)
    assert ok
    return png.tobytes()


@dataclass
class Kiosk:
    cfg: Any
    store: Any
    guide: Any
    clock: Callable[[], float]


class Clock:
    """The kiosk's wall clock, off by ``offset`` seconds (a kiosk whose clock is wrong)."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def __call__(self) -> float:
        return time.time() + self.offset


def write_config(root: Path, url: str, *, simulator: bool = True, extra: str = "") -> Path:
    text = (REPO / "config" / "kiosk.sim.toml").read_text()
    text = text.replace('state_dir = "var"', f'state_dir = "{root / "var"}"')
    # Scripted journeys leave out the optional phone and rating steps (tests/test_resident_* cover them).
    text = text.replace("phone_step = true", "phone_step = false").replace("rating_step = true", "rating_step = false")
    text = text.replace('url = "http://127.0.0.1:8765"', f'url = "{url}"')
    text = text.replace('retry_max_s = 30', 'retry_max_s = 30\nrefused_retry_s = 600' + extra)
    if not simulator:
        text = text.replace("[simulator]\nenabled = true", "[simulator]\nenabled = false")
    path = root / "config" / "kiosk.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@contextlib.contextmanager
def kiosk_at(root: Path, url: str, clock: Callable[[], float] | None = None, *, simulator: bool = True,
             extra: str = "") -> Iterator[Kiosk]:
    from flows.guide import load_guide
    from kiosk.config import load_config
    from locker.store import Store

    cfg = load_config(write_config(root, url, simulator=simulator, extra=extra))
    clock = clock or time.time
    store = Store.open(cfg.store.data_dir, cfg.store.key_file, create_key=True, clock=clock)
    try:
        yield Kiosk(cfg, store, load_guide(cfg.flows.guide_file), clock)
    finally:
        store.close()


def deposit(k: Kiosk, *, service_id: str = "housing_fund_deposit", scan_bytes: int = 200_000, seed: int = 1,
            name: str = "张三", id_number: str = "110101199003071234", compartment: str = "A01",
            defer: tuple[str, ...] = ()) -> str:
    """A committed case as the deposit flow leaves it: identity, card photo, template, checks, real PDFs."""
    from locker.submissions import Identity

    subs = k.store.submissions
    service = k.guide.get(service_id)
    ticket = subs.open_draft(service_id=service.id, required_papers=service.paper_ids,
                             identity=Identity(name, id_number, {"sex": "男", "nation_code": "01",
                                                                 "valid_to": "20350101"}),
                             card_photo=card_photo_png(), fingerprint=b"\x03" * 512,
                             checks={"face_distance": 0.412, "face_frames_judged": 9})
    for i, paper in enumerate(service.paper_ids):
        if paper in defer:
            subs.defer_paper(ticket.case_code, paper)
        else:
            subs.add_scan(ticket.case_code, paper, 0, make_pdf(scan_bytes, seed * 100 + i))
    subs.commit_submission(ticket.case_code, compartment_id=compartment)
    return ticket.case_code


def worker_for(k: Kiosk, **kw: Any) -> Any:
    from kiosk.sync.credential import credential_path
    from kiosk.sync.worker import DeliveryWorker

    return DeliveryWorker(k.store, k.guide, k.cfg.backoffice, credential_file=credential_path(k.cfg),
                          simulator=k.cfg.simulator.enabled, clock=k.clock, **{"receipt_grace_s": 0.0, **kw})


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM): the back office's own, used as the kiosk's ca_file."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "backoffice.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "backoffice.pem", folder / "backoffice.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class TlsFront(CutProxy):
    """HTTPS in front of the back office (as nginx would be), with the given certificate."""

    def __init__(self, target_port: int, cert: Path, key: Path) -> None:
        import ssl

        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.load_cert_chain(cert, key)
        super().__init__(target_port)
        self.url = f"https://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        import ssl

        while not self._stop.is_set():
            try:
                raw, _ = self._srv.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw, ssl), daemon=True).start()

    def _serve(self, raw: socket.socket, ssl: Any) -> None:
        try:
            raw.settimeout(10)
            client = self._ctx.wrap_socket(raw, server_side=True)
            client.settimeout(None)
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=30)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
        self._pump(upstream, client, False)


@contextlib.contextmanager
def enrolled_runtime(tmp: Path, edit_config: Callable[[str], str] = str) -> Iterator[tuple[Any, Any, Backoffice]]:
    """The kiosk as `make run` has it: the real back office, the kiosk enrolled with `kiosk enrol` and
    a fresh code (as scripts/run.sh does), the `kiosk sim all` simulators and the real runtime on them.

    ``edit_config`` changes the runtime's config text before the start (faster heartbeats, longer
    face timeouts). Yields ``(runtime, hands, backoffice)``; everything is stopped on every exit path.
    """
    from runtime_support import Hands, simulators
    from runtime_support import write_config as write_runtime_config

    from kiosk.config import load_config
    from kiosk.runtime import KioskRuntime

    backoffice = Backoffice(tmp / "backoffice").start()
    try:
        config = write_runtime_config(tmp, pcsc=False)
        text = config.read_text(encoding="utf-8").replace("http://127.0.0.1:8765", backoffice.url)
        config.write_text(edit_config(text), encoding="utf-8")
        code = backoffice.new_kiosk("qidu-sim")
        enrolled = subprocess.run([PY, "-m", "kiosk.cli", "--config", str(config), "enrol", backoffice.url, code],
                                  cwd=REPO, capture_output=True, text=True, timeout=120)
        assert enrolled.returncode == 0, enrolled.stderr
        with simulators(config, tmp / "sim.log") as control:
            runtime = KioskRuntime(load_config(config), supervise_interval=0.5).start()
            try:
                yield runtime, Hands(control), backoffice
            finally:
                runtime.close()
    finally:
        backoffice.close()
