"""The clerk's pages: the inbox and the case page. Views read and render; every change goes
through ``backoffice.cases.actions``."""

from __future__ import annotations

import base64
import urllib.parse

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from backoffice.accounts.scope import case_for, role_of, visible_cases, visible_kiosks
from backoffice.cases import actions
from backoffice.cases import render as scan_render
from backoffice.cases.models import OPEN_STATES, Channel, KnownService, State
from backoffice.cases.workflow import steps_for

PAGE_SIZE = 50


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    """All cases the user may see, filtered, soonest due first, overdue ones marked."""
    qs = visible_cases(request.user).select_related("kiosk")
    f = {k: request.GET.get(k, "") for k in ("kiosk", "village", "service", "state", "overdue")}
    today = timezone.localdate()
    kiosks = list(visible_kiosks(request.user))
    if f["kiosk"]:
        qs = qs.filter(kiosk_id__in=[k.pk for k in kiosks if k.kiosk_id == f["kiosk"]])
    if f["village"]:
        # By kiosk id, not a join on the village name: a village's one kiosk then walks the
        # (kiosk, due_date, id) index in page order, however many cases the town holds.
        ids = [k.pk for k in kiosks if k.village == f["village"]]
        qs = qs.filter(kiosk_id=ids[0]) if len(ids) == 1 else qs.filter(kiosk_id__in=ids)
    if f["service"]:
        qs = qs.filter(service_id=f["service"])
    if f["state"] in State.values:
        qs = qs.filter(state=f["state"])
    if f["overdue"] == "1":
        qs = qs.filter(state__in=OPEN_STATES, due_date__lt=today)
    try:
        offset = max(0, int(request.GET.get("from", "0")))
    except ValueError:
        offset = 0
    rows = list(qs.order_by("due_date", "id").only(
        "case_code", "kiosk__name", "kiosk__village", "service_id", "service_name_zh", "service_name_en",
        "name_masked", "state", "due_date", "deposited_at", "alert")[offset:offset + PAGE_SIZE + 1])
    has_next = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    for c in rows:
        c.overdue = c.state in OPEN_STATES and c.due_date < today
    profile = request.user.profile if hasattr(request.user, "profile") else None
    base = {k: v for k, v in f.items() if v}
    return render(request, "cases/inbox.html", {
        "cases": rows, "filters": f, "kiosks": kiosks,
        "villages": sorted({k.village for k in kiosks}),
        "services": KnownService.objects.filter(town_id=profile.town_id) if profile else [],
        "states": State.choices, "offset": offset,
        "next_query": urllib.parse.urlencode({**base, "from": offset + PAGE_SIZE}) if has_next else "",
        "prev_query": urllib.parse.urlencode({**base, "from": max(0, offset - PAGE_SIZE)}) if offset else "",
        "today": today,
    })


def _scan_pages(case) -> list[tuple]:  # type: ignore[no-untyped-def]
    """Every page of every received scan, in the order of the papers: what the pager walks."""
    order = {p.paper_id: p.position for p in case.papers.all()}
    files = sorted(case.files.filter(complete=True), key=lambda f: (order.get(f.paper_id, 999), f.page, f.file_id))
    return [(f, i) for f in files for i in range(f.page_count)]


def _case_context(request: HttpRequest, case, revealed: dict | None = None) -> dict:  # type: ignore[no-untyped-def]
    pages = _scan_pages(case)
    try:
        n = min(max(1, int(request.GET.get("scan", "1"))), max(1, len(pages)))
        zoom = min(max(1, int(request.GET.get("zoom", "1"))), scan_render.ZOOMS[-1])
    except ValueError:
        n, zoom = 1, 1
    current = pages[n - 1] if pages else None
    papers = list(case.papers.all())
    files_by_paper: dict[str, list] = {}
    for f in case.files.all():
        files_by_paper.setdefault(f.paper_id, []).append(f)
    for p in papers:
        p.scan_files = files_by_paper.get(p.paper_id, [])
    if revealed and revealed.get("card_photo"):
        revealed["card_photo_uri"] = "data:image/jpeg;base64," + base64.b64encode(revealed["card_photo"]).decode()
    return {
        "case": case, "papers": papers, "history": case.history.select_related("user"),
        "reveals": case.reveals.select_related("user")[:20],
        "scan_count": len(pages), "scan_n": n, "zoom": zoom, "zooms": scan_render.ZOOMS,
        "scan_width": scan_render.BASE_WIDTH * zoom,
        "scan_file": current[0] if current else None, "scan_page": current[1] + 1 if current else 0,
        "missing_files": case.files.filter(complete=False).count(),
        "unreadable_files": [f.file_id for f in case.files.filter(complete=True, page_count=0)],
        "steps": steps_for(case.state, role_of(request.user)), "channels": Channel.choices,
        "overdue": case.is_open and case.due_date < timezone.localdate(),
        "revealed": revealed,
    }


@login_required
def case_page(request: HttpRequest, case_code: str) -> HttpResponse:
    case = case_for(request.user, case_code)
    return render(request, "cases/case.html", _case_context(request, case))


@login_required
def scan_image(request: HttpRequest, case_code: str, file_id: str, page: int) -> HttpResponse:
    case = case_for(request.user, case_code)
    cf = case.files.filter(file_id=file_id, complete=True).first()
    if cf is None or not 1 <= page <= cf.page_count:
        raise Http404("no such page")
    try:
        zoom = int(request.GET.get("zoom", "1"))
    except ValueError:
        zoom = 1
    with default_storage.open(cf.blob_name) as fh:
        data = fh.read()
    png = scan_render.page_png(data, cf.content_type, page - 1, zoom)
    resp = HttpResponse(png, content_type="image/png")
    resp["Cache-Control"] = "private, max-age=3600"
    return resp


@login_required
@require_POST
def reveal(request: HttpRequest, case_code: str) -> HttpResponse:
    """Show the identity for this one response, after the reason is recorded."""
    case = case_for(request.user, case_code)
    try:
        revealed = actions.reveal_identity(case, request.user, request.POST.get("reason", ""))
    except actions.WorkflowError as exc:
        messages.error(request, str(exc))
        return redirect("cases:case", case_code=case.case_code)
    return render(request, "cases/case.html", _case_context(request, case, revealed))


@login_required
@require_POST
def step(request: HttpRequest, case_code: str) -> HttpResponse:
    case = case_for(request.user, case_code)
    try:
        actions.take_step(case, request.user, request.POST.get("step", ""), reason=request.POST.get("reason", ""),
                          channel=request.POST.get("channel", ""))
    except actions.WorkflowError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Step recorded."))
    return redirect("cases:case", case_code=case.case_code)
