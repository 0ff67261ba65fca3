"""The supervisor's fleet pages: the dashboard (one row per kiosk, worst first), a page per kiosk
with its history, alert acknowledgement, the guide versions, and the staff member's own PIN."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from backoffice.accounts.models import Role
from backoffice.accounts.scope import profile_of, visible_kiosks
from backoffice.cases.models import KioskEventRecord
from backoffice.fleet import actions
from backoffice.fleet.models import Alert, DeviceOutage, GuideVersionRecord, KioskState, StaffCredential

SUPERVISING = (Role.SUPERVISOR, Role.ADMIN, Role.KIOSK_STAFF, Role.CLERK)


def _profile(request: HttpRequest, roles: tuple[str, ...] = SUPERVISING) -> Any:
    p = profile_of(request.user)
    if p is None or p.role not in roles:
        raise PermissionDenied
    return p


def _ago(when: dt.datetime | None, now: dt.datetime) -> str:
    if when is None:
        return ""
    s = max(0.0, (now - when).total_seconds())
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.0f} d"


def _row(kiosk: Any, state: KioskState | None, open_alerts: list[Alert], now: dt.datetime) -> dict[str, Any]:
    offline = actions.is_offline(state, now)
    comp = state.compartments if state else {}
    down = state.devices_down if state else []
    disk_pct = (100.0 * state.disk_free_bytes / state.disk_total_bytes) if state and state.disk_total_bytes else None
    problems = len(open_alerts) + (3 if offline else 0) + (5 if state and state.audit_flag else 0) + len(down)
    return {
        "kiosk": kiosk, "state": state, "offline": offline, "never": state is None or not state.last_heartbeat_at,
        "last_seen_ago": _ago(state.last_heartbeat_at if state else None, now),
        "down": down, "comp": comp, "alerts": open_alerts, "problems": problems,
        "originals_age": _ago(state.oldest_original_at, now) if state and state.originals_waiting else "",
        "outbox_age": _ago(state.oldest_undelivered_at, now) if state and state.outbox_depth else "",
        "disk_gb": state.disk_free_bytes / 1e9 if state else None, "disk_pct": disk_pct,
        "disk_low": disk_pct is not None and disk_pct < 10,
    }


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    _profile(request)
    now = timezone.now()
    kiosks = list(visible_kiosks(request.user).select_related("fleet"))
    alerts: dict[int, list[Alert]] = {}
    for a in Alert.objects.filter(kiosk__in=kiosks, cleared_at=None).order_by("raised_at"):
        alerts.setdefault(a.kiosk_id, []).append(a)
    rows = [_row(k, getattr(k, "fleet", None), alerts.get(k.pk, []), now) for k in kiosks]
    rows.sort(key=lambda r: (-r["problems"], r["kiosk"].village, r["kiosk"].name))
    recent = Alert.objects.filter(kiosk__in=kiosks).select_related("kiosk").order_by("-raised_at")[:20]
    return render(request, "fleet/dashboard.html", {
        "rows": rows, "recent": recent, "up": sum(1 for r in rows if not r["offline"]),
        "total": len(rows), "open_alerts": sum(len(v) for v in alerts.values())})


@login_required
def kiosk_page(request: HttpRequest, kiosk_id: str) -> HttpResponse:
    _profile(request)
    kiosk = get_object_or_404(visible_kiosks(request.user), kiosk_id=kiosk_id)
    state = KioskState.objects.filter(kiosk=kiosk).first()
    now = timezone.now()
    open_alerts = list(Alert.objects.filter(kiosk=kiosk, cleared_at=None))
    doors = KioskEventRecord.objects.filter(kiosk=kiosk, kind__in=("door_jammed", "forced_open")
                                            ).order_by("-occurred_at")[:100]
    return render(request, "fleet/kiosk.html", {
        "kiosk": kiosk, "row": _row(kiosk, state, open_alerts, now), "state": state,
        "outages": DeviceOutage.objects.filter(kiosk=kiosk)[:100], "doors": doors,
        "alerts": Alert.objects.filter(kiosk=kiosk)[:100],
        "guide": actions.current_guide(), "staff_version": actions.staff_version()})


@login_required
@require_POST
def acknowledge(request: HttpRequest, alert_id: int) -> HttpResponse:
    _profile(request, (Role.SUPERVISOR, Role.ADMIN))
    alert = get_object_or_404(Alert, pk=alert_id, kiosk__in=visible_kiosks(request.user), cleared_at=None)
    actions.acknowledge(alert, request.user)
    messages.success(request, _("Alert acknowledged."))
    return redirect("fleet:kiosk", kiosk_id=alert.kiosk.kiosk_id)


class GuideForm(forms.Form):
    services_toml = forms.FileField(label=gettext_lazy("services.toml"))
    note = forms.CharField(max_length=200, required=False, label=gettext_lazy("What changed"))


@login_required
def guide(request: HttpRequest) -> HttpResponse:
    _profile(request, (Role.SUPERVISOR, Role.ADMIN))
    actions.ensure_first_guide()
    form = GuideForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        raw = form.cleaned_data["services_toml"].read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            form.add_error("services_toml", _("The file is not UTF-8 text."))
        else:
            rec = actions.upload_guide(text, request.user, form.cleaned_data["note"])
            if rec.accepted:
                messages.success(request, _("Version %(v)d accepted; publish it to send it to the kiosks.")
                                 % {"v": rec.version})
            else:
                messages.error(request, _("Version %(v)d refused: %(why)s") % {"v": rec.version, "why": rec.reason})
            return redirect("fleet:guide")
    states = KioskState.objects.filter(kiosk__in=visible_kiosks(request.user)).select_related("kiosk")
    return render(request, "fleet/guide.html", {"form": form, "versions": GuideVersionRecord.objects.all()[:50],
                                                "current": actions.current_guide(), "states": states})


@login_required
@require_POST
def publish(request: HttpRequest, version: int) -> HttpResponse:
    _profile(request, (Role.SUPERVISOR, Role.ADMIN))
    rec = get_object_or_404(GuideVersionRecord, version=version)
    try:
        actions.publish_guide(rec)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Version %(v)d published: every kiosk switches at its next poll.")
                         % {"v": rec.version})
    return redirect("fleet:guide")


class PinForm(forms.Form):
    pin = forms.RegexField(regex=r"^\d{6,12}$", widget=forms.PasswordInput, label=gettext_lazy("New PIN (6–12 digits)"))
    again = forms.CharField(widget=forms.PasswordInput, label=gettext_lazy("New PIN again"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("pin") and data.get("pin") != data.get("again"):
            raise forms.ValidationError(_("The two PINs differ."))
        return data


@login_required
def my_pin(request: HttpRequest) -> HttpResponse:
    p = _profile(request)
    cred = StaffCredential.objects.filter(profile=p).first()
    form = PinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.set_pin(p, form.cleaned_data["pin"])
        except ValueError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("New PIN saved; your kiosks take it at their next poll."))
            return redirect("fleet:my_pin")
    return render(request, "fleet/pin.html", {"form": form, "cred": cred, "kiosks": p.kiosks.all()})
