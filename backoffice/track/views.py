"""The public progress page ``/track/<case code>``: what a resident's phone opens from the receipt's
QR code. No login; no personal data until the visitor proves the case is theirs, then only masked.

Small on purpose: one HTML response with its CSS inline, no script, no image, no font download,
so it opens fast on a cheap phone over a weak signal and reflows at any text size.
"""

from __future__ import annotations

import time

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from backoffice.cases.models import Channel, State
from backoffice.track import actions, timeline
from backoffice.track.models import ResultReturn


def _addr(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def not_found(request: HttpRequest) -> HttpResponse:
    """The same answer for a code that never existed and one typed wrong: no hint either way."""
    return render(request, "track/not_found.html", status=404)


def _verified(request: HttpRequest, code: str) -> bool:
    until = request.session.get(f"track:{code}", 0)
    return isinstance(until, int | float) and until > time.time()


@never_cache
@csrf_protect
def track(request: HttpRequest, case_code: str) -> HttpResponse:
    addr = _addr(request)
    case = actions.find_case(case_code)
    if case is None:
        actions.record_not_found(case_code, addr)
        return not_found(request)
    message = ""
    status = 200
    if request.method == "POST" and request.POST.get("answer") is not None:
        outcome = actions.verify(case, request.POST.get("answer", ""), addr)
        if outcome == "ok":
            request.session[f"track:{case.case_code}"] = time.time() + 60 * actions.limits()["verified_minutes"]
        elif outcome == "limited":
            message, status = "limited", 429
        else:
            message = "wrong"
    verified = _verified(request, case.case_code)
    ret = ResultReturn.objects.filter(case=case).select_related("kiosk").first()
    placement = getattr(case, "placement", None) if case.state in (State.RETURNED, State.CLOSED) else None
    ctx = {
        "case": case, "verified": verified, "message": message,
        "lines": timeline.lines(case, verified),
        "stages": [(i, zh, en) for i, (_, zh, en) in enumerate(timeline.STAGES)],
        "stage": timeline.stage_index(case.state),
        "ret": ret, "placement": placement, "channel": Channel,
        "rejected": case.state == State.REJECTED, "more_papers": case.state == State.MORE_PAPERS,
    }
    if verified:
        ctx["masked"] = {"name": case.name_masked, "id": case.id_number_masked, "phone": case.phone_masked}
        ctx["unsent"] = _unsent(case)
        ctx["rating"] = _rating_context(case, request)
    return render(request, "track/track.html", ctx, status=status)


def _unsent(case):  # type: ignore[no-untyped-def]
    try:
        from backoffice.notifications.models import SmsMessage
    except ImportError:  # pragma: no cover
        return []
    return list(SmsMessage.objects.filter(case=case, sent_at=None).order_by("created_at"))


def _rating_context(case, request):  # type: ignore[no-untyped-def]
    try:
        from backoffice.ratings import views as rating_views
    except ImportError:
        return None
    return rating_views.online_context(case, request)
