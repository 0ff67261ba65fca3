"""Where text messages go: a plain HTTP JSON hook (POST ``{"to", "text", "id"}``, any 2xx is
"accepted") or an apprise URL with ``{to}`` where the number goes. Chosen by the configured
string's scheme, so a town switches providers with one setting.

Errors never carry the number: the exception text is what the outbox keeps and the log shows.
"""

from __future__ import annotations

from typing import Protocol

from backoffice.outbound import OutboundError, post_json


class GatewayError(Exception):
    """The gateway did not take the message; it stays queued and is tried again later."""


class Gateway(Protocol):
    def send(self, to: str, text: str, message_id: str) -> None: ...


class HttpJsonGateway:
    def __init__(self, url: str, timeout_s: float = 10.0, token: str = "") -> None:
        self.url, self.timeout_s, self.token = url, timeout_s, token

    def send(self, to: str, text: str, message_id: str) -> None:
        try:
            post_json(self.url, {"to": to, "text": text, "id": message_id}, token=self.token,
                      timeout_s=self.timeout_s, who="gateway")
        except OutboundError as exc:
            raise GatewayError(str(exc)) from None


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
