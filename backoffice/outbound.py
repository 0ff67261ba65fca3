"""One JSON POST to a system outside the back office (the SMS gateway, the 好差评 platform).

Why one place: both hooks must treat only a 2xx as taken, send the bearer token when one is set,
and describe a failure without the payload (it may hold a phone number), so that the outbox can
keep the message and try again. The callers turn ``OutboundError`` into their own error type.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class OutboundError(Exception):
    """The far end did not take the request; the text names the HTTP status or the network error."""


def post_json(url: str, payload: dict[str, Any], *, token: str = "", timeout_s: float = 10.0,
              who: str = "the far end") -> None:
    """POST ``payload`` as UTF-8 JSON; return on a 2xx, else raise ``OutboundError`` naming ``who``."""
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            if not 200 <= resp.status < 300:
                raise OutboundError(f"{who} answered HTTP {resp.status}")
    except urllib.error.HTTPError as exc:
        raise OutboundError(f"{who} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise OutboundError(f"{who} unreachable: {getattr(exc, 'reason', exc)}") from None
