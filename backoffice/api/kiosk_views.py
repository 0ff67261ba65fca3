"""The kiosk API of ``contract`` (see its module docstring): enrolment, packages, resumable
uploads, events. Parsing and validation are the contract's; storing is ``cases.actions``'."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

import contract
from backoffice.api.kiosk_auth import kiosk_api, read_body, remote_addr
from backoffice.api.responses import error, ok, refuse
from backoffice.cases import actions
from backoffice.kiosks import actions as kiosk_actions
from backoffice.kiosks.models import Kiosk


@csrf_exempt
def enrol(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return refuse("http.method", "use POST", 405)
    try:
        raw = read_body(request, limit=4096, what="enrol")
        req = contract.EnrolRequest.from_json(contract.parse_json_body(raw, limit=4096, what="enrol"))
        return ok(kiosk_actions.enrol(req, remote_addr=remote_addr(request)), status=201)
    except contract.ContractError as exc:
        return error(exc)


@kiosk_api
def case_package(request: HttpRequest, kiosk: Kiosk, skew: float, case_code: str) -> HttpResponse:
    if request.method != "PUT":
        return refuse("http.method", "use PUT", 405)
    raw = read_body(request, limit=contract.MAX_PACKAGE_BYTES, what="case")
    pkg = contract.CasePackage.from_json(contract.parse_json_body(raw, limit=contract.MAX_PACKAGE_BYTES, what="case"))
    if pkg.case_code != case_code:
        raise contract.ContractError("case.code_mismatch", f"the URL names {case_code}, the package {pkg.case_code}")
    receipt = actions.receive_package(kiosk, pkg, clock_skew_s=skew)
    return ok(receipt, status=201 if receipt.created else 200)


@kiosk_api
def case_file(request: HttpRequest, kiosk: Kiosk, skew: float, case_code: str, file_id: str) -> HttpResponse:
    if request.method == "GET":
        return ok(actions.upload_status(kiosk, case_code, file_id))
    if request.method != "PUT":
        return refuse("http.method", "use GET or PUT", 405)
    body = read_body(request, limit=contract.MAX_CHUNK_BYTES, what="chunk")
    return ok(actions.upload_chunk(kiosk, case_code, file_id, request.headers.get("Content-Range"), body))


@kiosk_api
def events(request: HttpRequest, kiosk: Kiosk, skew: float) -> HttpResponse:
    if request.method != "POST":
        return refuse("http.method", "use POST", 405)
    limit = 64 * 1024 + contract.MAX_EVENTS_PER_BATCH * 2048
    raw = read_body(request, limit=limit, what="events")
    batch = contract.EventBatch.from_json(contract.parse_json_body(raw, limit=limit, what="events"))
    return ok(actions.record_events(kiosk, batch, clock_skew_s=skew))
