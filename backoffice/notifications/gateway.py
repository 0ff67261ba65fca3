"""Where text messages go: a plain HTTP JSON hook (POST ``{"to", "text", "id"}``, any 2xx is
"accepted") or an apprise URL with ``{to}`` where the number goes. Chosen by the configured
string's scheme, so a town switches providers with one setting.

Errors never carry the number: the exception text is what the outbox keeps and the log shows.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Protocol


class GatewayError(Exception):
    """The gateway did not take the message; it stays queued and is tried again later."""


class Gateway(Protocol):
    def send(self, to: str, text: str, message_id: str) -> None: ...


class HttpJsonGateway:
    def __init__(self, url: str, timeout_s: float = 10.0, token: str = "") -> None:
        self.url, self.timeout_s, self.token = url, timeout_s, token

    def send(self, to: str, text: str, message_id: str) -> None:
        body = json.dumps({"to": to, "text": text, "id": message_id}, ensure_ascii=False).encode("utf-8")
        req = urllib.request.Request(self.url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"}
                                     | ({"Authorization": f"Bearer {self.token}"} if self.token else {}))
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                if not 200 <= resp.status < 300:
                    raise GatewayError(f"gateway answered HTTP {resp.status}")
        except urllib.error.HTTPError as exc:
            raise GatewayError(f"gateway answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GatewayError(f"gateway unreachable: {reason}") from None


class AppriseGateway:
    def __init__(self, url: str) -> None:
        self.url = url

    def send(self, to: str, text: str, message_id: str) -> None:
        import apprise

        ap = apprise.Apprise()
        if not ap.add(self.url.replace("{to}", to)):
            raise GatewayError("the apprise URL is not valid")
        if not ap.notify(body=text, title=""):
            raise GatewayError("apprise could not deliver the message")


def from_setting(url: str, *, timeout_s: float = 10.0, token: str = "") -> Gateway | None:
    if not url:
        return None
    if url.startswith(("http://", "https://")):
        return HttpJsonGateway(url, timeout_s, token)
    return AppriseGateway(url)
