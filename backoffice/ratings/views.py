"""Rating pages: the kiosk API, the progress page's online rating (and rating of a fix), the
supervisor's statistics and the rectification list (call-back, fix)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

import contract
from backoffice.accounts.scope import profile_of, visible_cases
from backoffice.api.kiosk_auth import kiosk_api, read_body
from backoffice.api.responses import ok, refuse
from backoffice.kiosks.models import Kiosk
from backoffice.ratings import actions, stats
from backoffice.ratings.models import LEVELS, REASONS, Rating, Rectification
from backoffice.track import actions as track_actions
from backoffice.track.views import _verified


@kiosk_api
def kiosk_ratings(request: HttpRequest, kiosk: Kiosk, skew: float) -> HttpResponse:
    if request.method != "POST":
        return refuse("http.method", "use POST", 405)
    limit = 4096 + contract.MAX_RATINGS_PER_BATCH * 1024
    raw = read_body(request, limit=limit, what="ratings")
    batch = contract.RatingBatch.from_json(contract.parse_json_body(raw, limit=limit, what="ratings"))
    return ok(actions.receive_batch(kiosk, batch, clock_skew_s=skew))


def online_context(case, request: HttpRequest) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """What the verified progress page offers: the case's rating form, or its rating, and the fix's."""
    if case.state not in actions.ONLINE_STATES:
        return None
    rating = Rating.objects.filter(rating_id=f"online-{case.case_code}").first()
    rect = Rectification.objects.filter(rating__case=case, fixed_at__isnull=False, fix_rating=None).first()
    return {"levels": LEVELS, "reasons": REASONS, "rating": rating, "fix": rect}


@require_POST
def rate(request: HttpRequest, case_code: str) -> HttpResponse:
    case = track_actions.find_case(case_code)
    if case is None or not _verified(request, case.case_code):
        raise Http404
    level, reasons, note = request.POST.get("level", ""), request.POST.getlist("reason"), request.POST.get("note", "")
    try:
        if request.POST.get("fix"):
            rect = Rectification.objects.filter(rating__case=case, fixed_at__isnull=False, fix_rating=None).first()
            if rect is None:
                raise actions.RatingError("没有待评价的整改 No fix to rate.")
            actions.rate_fix(rect, level, reasons if level in ("dissatisfied", "very_dissatisfied") else [], note)
        else:
            actions.rate_online(case, level, reasons if level in ("dissatisfied", "very_dissatisfied") else [], note)
    except actions.RatingError as exc:
        messages.error(request, str(exc))
    return redirect("track:track", case_code=case.case_code)


def _period(request: HttpRequest) -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    try:
        start = dt.date.fromisoformat(request.GET.get("from", ""))
    except ValueError:
        start = today - dt.timedelta(days=30)
    try:
        end = dt.date.fromisoformat(request.GET.get("to", ""))
    except ValueError:
        end = today
    return start, end


def _town_ratings(request: HttpRequest):  # type: ignore[no-untyped-def]
    p = profile_of(request.user)
    if p is None:
        raise Http404
    return Rating.objects.filter(town_id=p.town_id)


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    by = request.GET.get("by", "service")
    start, end = _period(request)
    rows = stats.table(_town_ratings(request), by, start, end)
    return render(request, "ratings/overview.html", {"rows": rows, "by": by, "start": start, "end": end,
                                                     "levels": LEVELS, "groups": list(stats.GROUPS)})


@login_required
def rectifications(request: HttpRequest) -> HttpResponse:
    rects = Rectification.objects.filter(rating__in=_town_ratings(request)).select_related(
        "rating", "rating__case", "rating__kiosk", "fix_rating")
    if request.GET.get("all") != "1":
        rects = rects.filter(fixed_at=None)
    return render(request, "ratings/rectifications.html", {"rects": rects, "today": timezone.localdate(),
                                                           "reasons": dict((k, zh) for k, zh, _ in REASONS)})


@login_required
@require_POST
def rectification_post(request: HttpRequest, pk: int) -> HttpResponse:
    rect = Rectification.objects.filter(pk=pk, rating__in=_town_ratings(request)).first()
    if rect is None or (rect.rating.case and not visible_cases(request.user).filter(pk=rect.rating.case_id).exists()):
        raise Http404
    try:
        if request.POST.get("what") == "callback":
            actions.record_callback(rect, request.user, request.POST.get("note", ""))
        else:
            actions.record_fix(rect, request.user, request.POST.get("note", ""))
    except actions.RatingError as exc:
        messages.error(request, str(exc))
    return redirect("ratings:rectifications")
