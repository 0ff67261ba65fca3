"""Two gunicorn app processes over one PostgreSQL: an upload begun on one is finished on the other,
and a connection cut mid-chunk costs nothing but a resend. Nothing lives on one process's disk."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from backoffice_support import Town, noise_pdf, package, postgres_env

import contract
from backoffice.cases.blobs import read_blob
from backoffice.cases.models import StoredBlob, UploadChunk

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_processes(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[list[int]]:  # type: ignore[no-untyped-def]
    """Two gunicorn processes on the test database, each with its own (empty, throw-away) cwd."""
    env = {**os.environ, **postgres_env(), "DJANGO_SETTINGS_MODULE": "backoffice.settings", "PYTHONPATH": str(REPO)}
    procs, ports = [], []
    for i in range(2):
        port = _free_port()
        cwd = tmp_path_factory.mktemp(f"app{i}")
        log = open(cwd / "gunicorn.log", "wb")  # noqa: SIM115 - closed with the process below
        procs.append((subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "backoffice.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1",
             "--timeout", "60"], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT), log))
        ports.append(port)
    try:
        for port in ports:
            for _ in range(200):
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    conn.request("GET", "/api/v1/openapi.json")
                    if conn.getresponse().status == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            else:
                raise AssertionError(f"gunicorn on {port} did not start")
        yield ports
    finally:
        for proc, log in procs:
            proc.terminate()
            proc.wait(timeout=20)
            log.close()


def _call(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None
          ) -> tuple[int, dict | bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    if resp.getheader("Content-Type", "").startswith("application/json"):
        return resp.status, json.loads(data)
    return resp.status, data


def _kiosk(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Kiosk-Time": str(time.time()), **extra}


def _chunk(port: int, token: str, data: bytes, start: int, end: int) -> tuple[int, dict | bytes]:
    return _call(port, "PUT", "/api/v1/cases/C3MRU76E/files/id_copy-1", data[start:end],
                 _kiosk(token, **{"Content-Type": "application/octet-stream",
                                  "Content-Range": contract.content_range(start, end, len(data))}))


def test_upload_begun_on_one_process_finishes_on_the_other_after_a_cut(app_processes, live_town: Town) -> None:
    a, b = app_processes
    data = noise_pdf(1_600_000)
    pkg = package(files={"id_copy-1": data})
    status, receipt = _call(a, "PUT", "/api/v1/cases/C3MRU76E", json.dumps(pkg).encode(),
                            _kiosk(live_town.token, **{"Content-Type": "application/json"}))
    assert status == 201 and receipt["missing_files"] == ["id_copy-1"]
    # The same package to the other process: already held, nothing new.
    status, again = _call(b, "PUT", "/api/v1/cases/C3MRU76E", json.dumps(pkg).encode(),
                          _kiosk(live_town.token, **{"Content-Type": "application/json"}))
    assert status == 200 and again["created"] is False
    half = len(data) // 2
    status, st = _chunk(a, live_town.token, data, 0, half)
    assert status == 200 and st["received"] == half
    # The connection to B is cut in the middle of the next chunk.
    rest = data[half:]
    with socket.create_connection(("127.0.0.1", b)) as s:
        head = (f"PUT /api/v1/cases/C3MRU76E/files/id_copy-1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {live_town.token}\r\nX-Kiosk-Time: {time.time()}\r\n"
                f"Content-Type: application/octet-stream\r\nContent-Length: {len(rest)}\r\n"
                f"Content-Range: {contract.content_range(half, len(data), len(data))}\r\n\r\n")
        s.sendall(head.encode() + rest[:len(rest) // 3])
        s.shutdown(socket.SHUT_WR)
        s.settimeout(30)
        with contextlib.suppress(OSError):
            s.recv(4096)
    # Either process tells where to go on: the first half is held, no byte of the cut chunk.
    for port in (a, b):
        status, st = _call(port, "GET", "/api/v1/cases/C3MRU76E/files/id_copy-1", headers=_kiosk(live_town.token))
        assert (status, st["received"], st["complete"]) == (200, half, False)
    status, st = _chunk(b, live_town.token, data, half, len(data))
    assert status == 200 and st == {"file_id": "id_copy-1", "received": len(data), "size": len(data),
                                    "complete": True}
    # A resend of the first half to A after completion changes nothing.
    assert _chunk(a, live_town.token, data, 0, half)[1]["complete"] is True
    blob = StoredBlob.objects.get()
    assert hashlib.sha256(read_blob(blob.name)).hexdigest() == hashlib.sha256(data).hexdigest()
    assert data[:64] not in bytes(blob.data)  # sealed at rest
    assert UploadChunk.objects.count() == 0
    # The approval platform downloads it from process A: the same bytes.
    from backoffice.accounts.actions import issue_api_token

    key = issue_api_token(live_town.users["platform"], "test")
    status, body = _call(a, "GET", "/api/v1/export/cases/C3MRU76E/package.zip",
                         headers={"Authorization": f"Token {key}"})
    assert status == 200
    assert zipfile.ZipFile(io.BytesIO(body)).read("files/id_copy-1.pdf") == data
