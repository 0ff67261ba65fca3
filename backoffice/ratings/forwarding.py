"""Forwarding ratings to the provincial 好差评 platform through an adapter.

An adapter turns one ``Rating`` into whatever the platform takes and sends it; ``ForwardError``
keeps the rating waiting for the next run. ``HttpJsonForwarder`` posts a plain JSON record (the
fields GB/T 39735 asks for: channel, service, level, reasons, note, time, place, whether named);
another platform is one more class registered in ``ADAPTERS`` and named in RATINGS["forward"].
No personal data is forwarded: the case code identifies the case to the platform's operators.
"""

from __future__ import annotations

from typing import Any, Protocol

from backoffice.outbound import OutboundError, post_json


class ForwardError(Exception):
    pass


class Forwarder(Protocol):
    def forward(self, record: dict[str, Any]) -> None: ...


class HttpJsonForwarder:
    def __init__(self, url: str, token: str = "", timeout_s: float = 10.0) -> None:
        self.url, self.token, self.timeout_s = url, token, timeout_s

    def forward(self, record: dict[str, Any]) -> None:
        try:
            post_json(self.url, record, token=self.token, timeout_s=self.timeout_s, who="platform")
        except OutboundError as exc:
            raise ForwardError(str(exc)) from None


ADAPTERS: dict[str, type] = {"http_json": HttpJsonForwarder}


def from_settings(cfg: dict[str, Any]) -> Forwarder | None:
    kind, url = cfg.get("forward", ""), cfg.get("forward_url", "")
    if not kind or not url:
        return None
    adapter = ADAPTERS.get(kind)
    if adapter is None:
        raise ForwardError(f"unknown forwarding adapter {kind!r}; known: {sorted(ADAPTERS)}")
    return adapter(url, cfg.get("forward_token", ""))  # type: ignore[no-any-return]


def record_of(rating: Any) -> dict[str, Any]:
    return {"id": rating.rating_id, "channel": "kiosk" if rating.occasion in ("deposit", "pickup") else rating.occasion,
            "occasion": rating.occasion, "case_code": rating.case.case_code if rating.case else None,
            "service_id": rating.service_id, "service_name": rating.service_name, "level": rating.level,
            "score": rating.score, "reasons": rating.reasons, "note": rating.note, "named": rating.named,
            "town": rating.town.code, "kiosk": rating.kiosk.kiosk_id if rating.kiosk else None,
            "village": rating.village, "rated_at": rating.rated_at.isoformat()}
