"""The administrator's kiosk page: create a kiosk (its one-time code shown once), issue a new
code, revoke, and see refused requests."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

import contract
from backoffice.accounts.models import Role
from backoffice.accounts.scope import profile_of
from backoffice.kiosks import actions
from backoffice.kiosks.models import AuthRefusal, Kiosk


class KioskForm(forms.Form):
    kiosk_id = forms.RegexField(regex=contract.KIOSK_ID_RE, max_length=63, label=gettext_lazy("Kiosk ID"),
                                help_text=gettext_lazy("Lower-case letters, digits and '-', e.g. qidu-xinjian"))
    name = forms.CharField(max_length=80, label=gettext_lazy("Name"))
    village = forms.CharField(max_length=60, label=gettext_lazy("Village"))


def _admin_profile(request: HttpRequest):  # type: ignore[no-untyped-def]
    p = profile_of(request.user)
    if p is None or p.role != Role.ADMIN:
        raise PermissionDenied
    return p


@login_required
def kiosk_list(request: HttpRequest) -> HttpResponse:
    p = _admin_profile(request)
    form = KioskForm(request.POST or None)
    new_code = None
    if request.method == "POST" and form.is_valid():
        if Kiosk.objects.filter(kiosk_id=form.cleaned_data["kiosk_id"]).exists():
            form.add_error("kiosk_id", _("A kiosk with this ID exists."))
        else:
            kiosk, code = actions.create_kiosk(town=p.town, **form.cleaned_data)
            new_code = (kiosk, code)
            form = KioskForm()
    kiosks = Kiosk.objects.filter(town=p.town)
    refusals = AuthRefusal.objects.filter(Q(kiosk__town=p.town) | Q(kiosk=None))[:30]
    return render(request, "kiosks/list.html", {"kiosks": kiosks, "form": form, "new_code": new_code,
                                                "refusals": refusals})


@login_required
@require_POST
def new_code(request: HttpRequest, kiosk_id: str) -> HttpResponse:
    p = _admin_profile(request)
    kiosk = get_object_or_404(Kiosk, kiosk_id=kiosk_id, town=p.town)
    code = actions.issue_enrol_code(kiosk)
    return render(request, "kiosks/list.html", {
        "kiosks": Kiosk.objects.filter(town=p.town), "form": KioskForm(), "new_code": (kiosk, code),
        "refusals": AuthRefusal.objects.filter(Q(kiosk__town=p.town) | Q(kiosk=None))[:30]})


@login_required
@require_POST
def revoke(request: HttpRequest, kiosk_id: str) -> HttpResponse:
    p = _admin_profile(request)
    kiosk = get_object_or_404(Kiosk, kiosk_id=kiosk_id, town=p.town)
    actions.revoke(kiosk)
    messages.success(request, _("Kiosk %(name)s revoked.") % {"name": kiosk.name})
    return redirect("kiosks:list")
