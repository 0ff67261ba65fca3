"""Keep room for heartbeats when every kiosk uploads at once (a reconnection storm).

An app process has a fixed number of threads. When a thousand kiosks come back after an outage,
each with queued cases, uploads take every thread and heartbeats wait behind them until the
dashboard calls healthy kiosks offline. Above ``BACKOFFICE_UPLOADS_PER_PROCESS`` case calls in
flight in this process, a further one is answered ``503`` with ``Retry-After``: the kiosk's
delivery worker treats it as "back off and try again" (nothing is lost: the case stays in its
outbox), and the threads left take heartbeats and clerks' pages. 0 turns it off.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

import contract

UPLOAD_PREFIX = contract.API_PREFIX + "/cases/"
RETRY_AFTER_S = 5
LIMIT = int(os.environ.get("BACKOFFICE_UPLOADS_PER_PROCESS", "6"))
SLOTS = threading.BoundedSemaphore(LIMIT) if LIMIT > 0 else None  # one set per app process


class UploadAdmission:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.limit = LIMIT
        self.slots = SLOTS

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.slots is None or not request.path.startswith(UPLOAD_PREFIX):
            return self.get_response(request)
        if not self.slots.acquire(blocking=False):
            body = contract.ErrorBody("backoffice.busy", f"{self.limit} uploads are in progress on this app process; "
                                      f"the kiosk keeps the case and tries again in {RETRY_AFTER_S} s or later")
            return JsonResponse(body.to_json(), status=503, headers={"Retry-After": str(RETRY_AFTER_S)})
        try:
            return self.get_response(request)
        finally:
            self.slots.release()
