"""HTTP to the back office, speaking only the contract's messages.

Why http.client and not a bigger library: the kiosk needs exactly five calls, a pinned CA, a
time-out on every request and one kept-alive connection (a 3 MB case is a few dozen requests);
the standard library does all of that. Every call carries the kiosk's Bearer credential and its
clock (``X-Kiosk-Time``) so the back office can correct a kiosk whose clock is wrong.

Plain ``http://`` is refused here too unless the caller says it is simulator mode, so a wrong
configuration can never send personal data unencrypted even if ``config check`` was skipped.
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import contract
from devices.errors import ConfigError
from kiosk.sync.errors import Refused, Revoked, Unreachable

log = logging.getLogger(__name__)

SOFTWARE = "kiosk-controller/0.1.0"
_RETRY_STATUSES = {408, 425, 429}  # the back office asks us to come back later: not a refusal


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verify the back office's certificate against ``ca_file`` (its own cert or its CA), else the system's."""
    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class BackofficeClient:
    """One back office, one kept-alive connection; reconnects after any failure."""

    def __init__(self, url: str, *, token: str | None = None, ca_file: Path | None = None, allow_plain: bool = False,
                 timeout: float = 30.0, clock: Callable[[], float] = time.time) -> None:
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ConfigError(f"back office URL {url!r} is not an http(s) address")
        if parts.scheme == "http" and not allow_plain:
            raise ConfigError(f"back office URL {url!r} is plain http://: personal data would leave unencrypted; "
                              "use https:// (http is allowed only in simulator mode)")
        self.url = url.rstrip("/")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.clock = clock
        self._tls = tls_context(ca_file) if parts.scheme == "https" else None
        self._conn: http.client.HTTPConnection | None = None

    # -- the contract's calls ---------------------------------------------------------------------------
    def enrol(self, code: str) -> contract.EnrolResponse:
        req = contract.EnrolRequest(code=code.strip(), software_version=SOFTWARE)
        data = self._json("POST", "/enrol", contract.dumps(req), auth=False)
        return contract.EnrolResponse.from_json(data)

    def put_case(self, case_code: str, package_json: bytes) -> contract.CaseReceipt:
        data = self._json("PUT", f"/cases/{quote(case_code)}", package_json)
        return contract.CaseReceipt.from_json(data)

    def file_status(self, case_code: str, file_id: str) -> contract.UploadStatus:
        data = self._json("GET", f"/cases/{quote(case_code)}/files/{quote(file_id)}", None)
        return contract.UploadStatus.from_json(data)

    def put_chunk(self, case_code: str, file_id: str, start: int, chunk: bytes, total: int) -> contract.UploadStatus:
        headers = {"Content-Type": "application/octet-stream",
                   "Content-Range": contract.content_range(start, start + len(chunk), total)}
        data = self._json("PUT", f"/cases/{quote(case_code)}/files/{quote(file_id)}", chunk, headers=headers)
        return contract.UploadStatus.from_json(data)

    def post_events(self, batch: contract.EventBatch) -> contract.EventsReceipt:
        data = self._json("POST", "/events", contract.dumps(batch))
        return contract.EventsReceipt.from_json(data)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- plumbing -----------------------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._tls is not None:
                self._conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                                         context=self._tls)
            else:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    def _json(self, method: str, path: str, body: bytes | None, *, auth: bool = True,
              headers: dict[str, str] | None = None) -> Any:
        status, raw = self.request(method, path, body, auth=auth, headers=headers)
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise Unreachable(f"{method} {path}: the back office answered {status} with something that is not "
                              f"JSON ({raw[:80]!r})", status=status) from None

    def request(self, method: str, path: str, body: bytes | None, *, auth: bool = True,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """One request; 2xx → (status, body); anything else raises the error that says what to do next."""
        full = f"{self.base_path}{contract.API_PREFIX}{path}"
        hdrs = {"User-Agent": SOFTWARE, "Accept": "application/json", "X-Kiosk-Time": str(int(self.clock()))}
        if body is not None:
            hdrs.setdefault("Content-Type", "application/json")
        if auth:
            if not self.token:
                raise Revoked("this kiosk has no back-office credential", code="kiosk.credential_invalid", status=401)
            hdrs["Authorization"] = f"Bearer {self.token}"
        hdrs.update(headers or {})
        try:
            conn = self._connection()
            conn.request(method, full, body=body, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            status = resp.status
            if resp.will_close:
                self.close()
        except ssl.SSLCertVerificationError as exc:
            self.close()
            raise Unreachable(f"the back office at {self.url} did not prove who it is ({exc.verify_message}); "
                              "check [backoffice] ca_file") from exc
        except (OSError, http.client.HTTPException) as exc:  # time-outs are OSErrors
            self.close()
            raise Unreachable(f"{method} {self.url}{full}: {type(exc).__name__}: {exc}") from exc
        if 200 <= status < 300:
            return status, raw
        self.close()  # start the next request on a clean connection
        code, message = _error_of(raw, status)
        where = f"{method} {contract.API_PREFIX}{path}"
        if status == 401:
            raise Revoked(f"the back office refused this kiosk's credential ({code}): {message}", code=code,
                          status=status)
        if status >= 500 or status in _RETRY_STATUSES:
            raise Unreachable(f"{where}: the back office answered {status} ({code}): {message}", status=status)
        raise Refused(f"{where}: refused {status} ({code}): {message}", code=code, status=status)


def _error_of(raw: bytes, status: int) -> tuple[str, str]:
    try:
        body = contract.ErrorBody.from_json(json.loads(raw.decode("utf-8")))
        return body.code, body.message
    except Exception:
        text = raw[:300].decode("utf-8", "replace").strip() or http.client.responses.get(status, "")
        return f"http.{status}", text
