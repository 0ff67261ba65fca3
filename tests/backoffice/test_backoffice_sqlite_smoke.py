"""The one-machine trial (``make run``'s back office): SQLite, demo_setup's printed code and
passwords, a kiosk enrolling and delivering over HTTP, the clerk seeing the case in the inbox, and the
受理 text reaching the simulated resident's phone through the SMS gateway simulator and ``sms_send``."""

from __future__ import annotations

import hashlib
import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from backoffice_support import make_pdf, package

import contract

REPO = Path(__file__).resolve().parents[2]


def test_demo_setup_enrol_deliver_and_see_it_in_the_inbox_on_sqlite(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_DB_")}
    env.update(BACKOFFICE_SQLITE_PATH=str(tmp_path / "bo.sqlite3"), PYTHONPATH=str(REPO),
               DJANGO_SETTINGS_MODULE="backoffice.settings")
    manage = [sys.executable, "-m", "backoffice"]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=tmp_path)
    out = subprocess.run([*manage, "demo_setup"], env=env, check=True, cwd=tmp_path, capture_output=True,
                         text=True).stdout
    code = re.search(r"^ENROL_CODE=(\S+)$", out, re.M).group(1)
    kiosk_id = re.search(r"^ENROL_KIOSK=(\S+)$", out, re.M).group(1)
    password = re.search(r"^BACKOFFICE_USER=qidu-clerk BACKOFFICE_PASSWORD=(\S+)", out, re.M).group(1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen([*manage, "runserver", "--noreload", f"127.0.0.1:{port}"], env=env, cwd=tmp_path,
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/api/v1/openapi.json", timeout=2)
                break
            except OSError:
                time.sleep(0.1)

        def call(method: str, path: str, body: bytes, headers: dict) -> dict:
            req = urllib.request.Request(base + path, data=body, method=method, headers=headers)
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read())

        answer = contract.EnrolResponse.from_json(call(
            "POST", "/api/v1/enrol", json.dumps(contract.EnrolRequest(code, "smoke").to_json()).encode(),
            {"Content-Type": "application/json"}))
        assert answer.kiosk_id == kiosk_id and answer.town == "七都"
        pdf = make_pdf(1)
        pkg = package("SMK23456", kiosk_id, files={"id_copy-1": pdf})
        auth = {"Authorization": f"Bearer {answer.credential}", "X-Kiosk-Time": str(time.time())}
        receipt = call("PUT", "/api/v1/cases/SMK23456", json.dumps(pkg).encode(),
                       {**auth, "Content-Type": "application/json"})
        assert receipt["missing_files"] == ["id_copy-1"]
        st = call("PUT", "/api/v1/cases/SMK23456/files/id_copy-1", pdf,
                  {**auth, "Content-Range": contract.content_range(0, len(pdf), len(pdf)),
                   "Content-Type": "application/octet-stream"})
        assert st["complete"] is True
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        opener.open(base + "/login/").read()
        csrf = next(c.value for c in jar if c.name == "csrftoken")
        opener.open(urllib.request.Request(base + "/login/", data=urllib.parse.urlencode(
            {"username": "qidu-clerk", "password": password, "csrfmiddlewaretoken": csrf}).encode(),
            headers={"Referer": base + "/login/"})).read()
        inbox = opener.open(base + "/").read().decode()
        assert "SMK23456" in inbox and "待办" in inbox and "欧***" in inbox
        png = opener.open(base + "/cases/SMK23456/scans/id_copy-1/1.png").read()
        assert png.startswith(b"\x89PNG")
        assert hashlib.sha256(pdf).hexdigest() == pkg["files"][0]["sha256"]

        # make run's text path: the SMS gateway simulator as its own process, sms_send pointed at it; the
        # 受理 text queued by the delivery reaches the simulated phone with the number masked.
        phone = tmp_path / "sms-phone.log"
        sim = subprocess.Popen([*manage, "sms_gateway_sim", "--port", "0", "--log", str(phone)], env=env,
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            ready = sim.stdout.readline()
            gateway = re.search(r"at (http://127\.0\.0\.1:\d+/sms)", ready)
            assert gateway, ready + sim.stdout.read()
            sent = subprocess.run([*manage, "sms_send", "--now"], cwd=tmp_path,
                                  env={**env, "BACKOFFICE_SMS_GATEWAY": gateway.group(1)},
                                  check=True, capture_output=True, text=True).stdout
            assert "sms: 1 sent, 0 not sent" in sent
        finally:
            sim.terminate()
            rest = sim.communicate(timeout=20)[0]
        assert "stopped: 1 text(s) taken" in rest
        lines = phone.read_text(encoding="utf-8").splitlines()
        assert len(lines) == 1 and "  139****5678  " in lines[0]
        assert "SMK23456" in lines[0] and "已受理" in lines[0] and "13912345678" not in lines[0]
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
