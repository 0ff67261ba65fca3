"""The clerk's side of returning a result and of what residents were sent: choose the channel
(kiosk locker, counter, mail with address and tracking number), see which text messages went out
and which wait, and the open staff tasks (results left unfetched)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from backoffice.accounts.scope import case_for, visible_cases, visible_kiosks
from backoffice.cases.models import Channel
from backoffice.notifications.models import SmsMessage
from backoffice.track import results
from backoffice.track.models import ResultReturn, StaffTask


@login_required
def result_page(request: HttpRequest, case_code: str) -> HttpResponse:
    case = case_for(request.user, case_code)
    return render(request, "track/result_return.html", {
        "case": case, "ret": ResultReturn.objects.filter(case=case).select_related("kiosk").first(),
        "kiosks": visible_kiosks(request.user), "sms": SmsMessage.objects.filter(case=case),
        "decided": case.state in results.DECIDED, "channel": Channel})


@login_required
@require_POST
def result_post(request: HttpRequest, case_code: str) -> HttpResponse:
    case = case_for(request.user, case_code)
    how = request.POST.get("how", "")
    try:
        if how == "locker":
            kiosk = visible_kiosks(request.user).filter(kiosk_id=request.POST.get("kiosk", "")).first()
            if kiosk is None:
                raise results.ReturnError("请选择自助柜 Choose a kiosk.")
            results.send_to_locker(case, request.user, kiosk)
        elif how in (Channel.COUNTER, Channel.MAIL):
            results.record_handover(case, request.user, how, address=request.POST.get("address", ""),
                                    tracking=request.POST.get("tracking", ""))
        else:
            raise results.ReturnError("请选择交付方式 Choose how the result goes back.")
    except results.ReturnError as exc:
        messages.error(request, str(exc))
    except Exception as exc:  # a workflow refusal from cases.actions carries its own message
        from backoffice.cases.actions import WorkflowError

        if not isinstance(exc, WorkflowError):
            raise
        messages.error(request, str(exc))
    return redirect("results:case", case_code=case.case_code)


@login_required
def tasks(request: HttpRequest) -> HttpResponse:
    open_tasks = StaffTask.objects.filter(case__in=visible_cases(request.user), done_at=None).select_related(
        "case", "case__kiosk")
    return render(request, "track/tasks.html", {"tasks": open_tasks})
