"""The kiosk side of the fleet API (see the fleet section of ``contract``): heartbeats in, and what
a kiosk behind NAT pulls — staff accounts, the guide, results to place — plus placements."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

import contract
from backoffice.api.kiosk_auth import kiosk_api, read_body
from backoffice.api.responses import ok, refuse
from backoffice.fleet import actions
from backoffice.kiosks.models import Kiosk


def _have(request: HttpRequest) -> int | None:
    raw = request.GET.get("have", "")
    return int(raw) if raw.isdigit() else None


@kiosk_api
def heartbeat(request: HttpRequest, kiosk: Kiosk, skew: float) -> HttpResponse:
    if request.method != "POST":
        return refuse("http.method", "use POST", 405)
    raw = read_body(request, limit=contract.MAX_HEARTBEAT_BYTES, what="heartbeat")
    hb = contract.Heartbeat.from_json(contract.parse_json_body(raw, limit=contract.MAX_HEARTBEAT_BYTES,
                                                               what="heartbeat"))
    return ok(actions.receive_heartbeat(kiosk, hb, clock_skew_s=skew))


@kiosk_api
def staff(request: HttpRequest, kiosk: Kiosk, skew: float) -> HttpResponse:
    if request.method != "GET":
        return refuse("http.method", "use GET", 405)
    return ok(actions.staff_snapshot(kiosk, _have(request)))


@kiosk_api
def guide(request: HttpRequest, kiosk: Kiosk, skew: float) -> HttpResponse:
    if request.method != "GET":
        return refuse("http.method", "use GET", 405)
    return ok(actions.guide_for(_have(request)))


@kiosk_api
def results(request: HttpRequest, kiosk: Kiosk, skew: float) -> HttpResponse:
    if request.method != "GET":
        return refuse("http.method", "use GET", 405)
    return ok(actions.results_for(kiosk))


@kiosk_api
def placed(request: HttpRequest, kiosk: Kiosk, skew: float, case_code: str) -> HttpResponse:
    if request.method != "POST":
        return refuse("http.method", "use POST", 405)
    raw = read_body(request, limit=4096, what="placed")
    msg = contract.ResultPlaced.from_json(contract.parse_json_body(raw, limit=4096, what="placed"))
    if msg.case_code != case_code:
        raise contract.ContractError("case.code_mismatch", f"the URL names {case_code}, the body {msg.case_code}")
    rec = actions.record_placement(kiosk, msg, clock_skew_s=skew)
    return ok({"case_code": case_code, "compartment_id": rec.compartment_id, "placed_at": rec.placed_at.timestamp()})
