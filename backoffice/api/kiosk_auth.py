"""The door of the kiosk API: every call but enrolment proves which kiosk it is, and says what
its clock reads so the back office can correct the kiosk's times."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

import contract
from backoffice.api.responses import error, log
from backoffice.kiosks import actions as kiosk_actions


def remote_addr(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def clock_skew(request: HttpRequest) -> float:
    """Back-office time minus the kiosk's ``X-Kiosk-Time``: added to every kiosk time it sends."""
    raw = request.headers.get("X-Kiosk-Time")
    try:
        kiosk_time = float(raw) if raw is not None else math.nan
    except ValueError:
        kiosk_time = math.nan
    if not math.isfinite(kiosk_time) or kiosk_time <= 0:
        raise contract.ContractError("kiosk.time_missing",
                                     "the X-Kiosk-Time header (the kiosk's clock, epoch seconds) is required")
    return time.time() - kiosk_time


def kiosk_api(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Authenticate the kiosk (401 + a logged refusal otherwise) and pass it and its clock skew on."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            header = request.headers.get("Authorization", "")
            if not header.startswith("Bearer "):
                kiosk_actions.refuse(None, "", "kiosk.credential_missing", remote_addr(request), request.path)
                raise contract.ContractError("kiosk.credential_missing",
                                             "this call needs 'Authorization: Bearer <kiosk_id>.<secret>'", status=401)
            kiosk = kiosk_actions.authenticate(header[7:].strip(), remote_addr=remote_addr(request), path=request.path)
            skew = clock_skew(request)
            kiosk_actions.seen(kiosk, clock_skew_s=skew)
            return view(request, kiosk, skew, *args, **kwargs)
        except contract.ContractError as exc:
            if exc.status >= 400:
                log.info("kiosk API %s %s refused: %s", request.method, request.path, exc.code)
            extra = {"received": exc.received} if hasattr(exc, "received") else None
            return error(exc, extra=extra)

    return wrapper


def read_body(request: HttpRequest, *, limit: int, what: str) -> bytes:
    """The request body, refusing one over ``limit`` before reading it (413 with a clear error)."""
    from django.core.exceptions import RequestDataTooBig

    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise contract.ContractError("contract.too_large", f"{what}: {declared} bytes, the limit is {limit}",
                                     status=413)
    try:
        return request.body
    except RequestDataTooBig as exc:
        raise contract.ContractError("contract.too_large", f"{what}: over the limit of {limit} bytes",
                                     status=413) from exc
    except OSError as exc:  # the connection was cut mid-body: nothing of it is kept
        raise contract.ContractError("http.incomplete_body", f"{what}: the body ended early ({exc})") from exc
