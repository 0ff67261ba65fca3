"""The export API for the approval platform, and the case page's download of the same zip."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.dateparse import parse_datetime

from backoffice.accounts.actions import token_hash
from backoffice.accounts.models import ApiToken, Role
from backoffice.accounts.scope import role_of, visible_cases
from backoffice.api import export, openapi
from backoffice.api.responses import ok, refuse
from backoffice.cases import actions

EXPORT_ROLES = (Role.CLERK, Role.SUPERVISOR, Role.PLATFORM)


def export_api(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A logged-in clerk's session, or ``Authorization: Token <key>`` of a platform account."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme in ("Token", "Bearer") and key:
            token = ApiToken.objects.select_related("user").filter(key_hash=token_hash(key.strip()),
                                                                   revoked_at=None).first()
            if token is None or not token.user.is_active:
                return refuse("export.token_invalid", "the API key is not valid", 401)
            request.user = token.user
        if not request.user.is_authenticated:
            return refuse("export.unauthenticated", "log in or send 'Authorization: Token <key>'", 401)
        if role_of(request.user) not in EXPORT_ROLES:
            return refuse("export.forbidden", "this account may not export cases", 403)
        return view(request, *args, **kwargs)

    return wrapper


def openapi_json(request: HttpRequest) -> HttpResponse:
    return ok(openapi.document(request.build_absolute_uri("/").rstrip("/")))


@export_api
def case_list(request: HttpRequest) -> HttpResponse:
    qs = visible_cases(request.user).select_related("kiosk").order_by("id")
    if request.GET.get("state"):
        qs = qs.filter(state=request.GET["state"])
    since = parse_datetime(request.GET.get("updated_since", "")) if request.GET.get("updated_since") else None
    if since is not None:
        qs = qs.filter(updated_at__gte=since if since.tzinfo else since.replace(tzinfo=dt.UTC))
    try:
        limit = min(500, max(1, int(request.GET.get("limit", "100"))))
        after = int(request.GET.get("after", "0"))
    except ValueError:
        return refuse("export.bad_query", "limit and after are whole numbers", 400)
    rows = list(qs.filter(id__gt=after)[:limit + 1])
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        q = request.GET.copy()
        q["after"] = str(rows[-1].id)
        nxt = request.build_absolute_uri(request.path) + "?" + q.urlencode()
    return ok({"cases": [export.case_summary(c) for c in rows], "next": nxt})


def _case(request: HttpRequest, case_code: str) -> Any:
    return visible_cases(request.user).select_related("kiosk", "town").filter(case_code=case_code).first()


@export_api
def case_detail(request: HttpRequest, case_code: str) -> HttpResponse:
    case = _case(request, case_code)
    if case is None:
        return refuse("case.unknown", f"no case {case_code} in your town", 404)
    actions.record_export(case, request.user, "json")
    return ok(export.case_document(case))


@export_api
def case_package(request: HttpRequest, case_code: str) -> HttpResponse:
    case = _case(request, case_code)
    if case is None:
        return refuse("case.unknown", f"no case {case_code} in your town", 404)
    actions.record_export(case, request.user, "zip")
    resp = HttpResponse(export.case_zip(case), content_type="application/zip")
    resp["Content-Disposition"] = f'attachment; filename="case-{case.case_code}.zip"'
    return resp
