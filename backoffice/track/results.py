"""Results back to the resident: the clerk's choice of channel, the kiosk's placement and the
resident's collection as they reach the back office, and the task when a result waits too long.

Called from ``cases.actions`` inside its transactions (received, step taken, kiosk event), so a
case's state, its history, its ``ResultReturn`` and the text message it causes move together.
A locker result goes to the kiosk that took the case: only that kiosk holds the resident's
fingerprint and card check for the pickup, so naming another kiosk is refused with that reason.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backoffice import crypto
from backoffice.cases.models import Case, CaseHistory, Channel, State
from backoffice.kiosks.models import Kiosk
from backoffice.notifications import actions as sms
from backoffice.notifications.models import Kind
from backoffice.track.models import ResultReturn, StaffTask

log = logging.getLogger("backoffice.track")

DECIDED = (State.APPROVED, State.REJECTED, State.MORE_PAPERS)


class ReturnError(Exception):
    """A return step the clerk cannot take now; the message is shown to them."""


def unfetched_days() -> int:
    return int(getattr(settings, "RESIDENT", {}).get("unfetched_days", 7))


def send_to_locker(case: Case, user: Any, kiosk: Kiosk) -> ResultReturn:
    """The clerk marks "result to the kiosk locker": the kiosk's staff screen lists it at its next pull."""
    if kiosk.pk != case.kiosk_id:
        raise ReturnError(f"结果只能送回受理的自助柜（{case.kiosk.name}）：只有它能核验申请人的指纹和身份证。"
                          f" The result can only go to the kiosk that took the case ({case.kiosk.name}).")
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        if locked.state not in DECIDED:
            raise ReturnError("案件尚未办结 The case has no decision yet.")
        ret, _ = ResultReturn.objects.update_or_create(
            case=locked, defaults={"channel": Channel.LOCKER, "kiosk": kiosk, "marked_by": user.get_username()})
        locked.result_channel = Channel.LOCKER
        locked.save(update_fields=["result_channel", "updated_at"])
        CaseHistory.objects.create(case=locked, user=user, actor=user.get_username(), action="result_to_locker",
                                   note=f"kiosk {kiosk.kiosk_id}")
    log.info("case %s: result to kiosk %s by user %s", case.case_code, kiosk.kiosk_id, user.pk)
    return ret


def record_handover(case: Case, user: Any, channel: str, *, address: str = "", tracking: str = "") -> ResultReturn:
    """At the counter or by mail: the workflow's "return" step plus what the resident must know."""
    from backoffice.cases import actions as case_actions

    if channel == Channel.MAIL and len(address.strip()) < 6:
        raise ReturnError("请填写邮寄地址 Enter the mailing address.")
    with transaction.atomic():
        if case.state != State.RETURNED:
            case = case_actions.take_step(case, user, "return", channel=channel)
        ret, _ = ResultReturn.objects.update_or_create(case=case, defaults={
            "channel": channel, "kiosk": None, "marked_by": user.get_username(),
            "mail_address_sealed": crypto.seal(address.strip()) if address.strip() else None,
            "tracking_number": tracking.strip()[:40]})
        if tracking.strip():
            CaseHistory.objects.create(case=case, user=user, actor=user.get_username(), action="result_mailed",
                                       note=f"tracking {tracking.strip()[:40]}")
        if case.state == State.RETURNED and channel in (Channel.COUNTER, Channel.MAIL):
            sms.queue_for(case, Kind.DONE, f"handover-{channel}", outcome="结果已交付" if channel == Channel.COUNTER
                          else f"结果已邮寄{('，运单号' + tracking.strip()) if tracking.strip() else ''}")
    return ret


def on_received(case: Case, pickup_code: str | None) -> None:
    sms.store_pickup_code(case, pickup_code)
    sms.queue_for(case, Kind.RECEIVED, "received")


def on_placed(case: Case, compartment_id: str, at: dt.datetime) -> None:
    """The kiosk placed the result: record it and send the pickup message (with the pickup code)."""
    ret, _ = ResultReturn.objects.get_or_create(case=case, defaults={
        "channel": Channel.LOCKER, "kiosk_id": case.kiosk_id, "marked_by": "kiosk"})
    if ret.placed_at is None:
        ResultReturn.objects.filter(pk=ret.pk).update(placed_at=at, compartment_id=compartment_id or "")
    secret = getattr(case, "secret", None)
    sms.queue_for(case, Kind.RESULT_READY, "placed", kiosk=case.kiosk.name, compartment=compartment_id or "",
                  pickup_code=secret.pickup_code() if secret is not None else "")


def on_collected(case: Case, at: dt.datetime) -> None:
    ResultReturn.objects.filter(case=case, collected_at=None).update(collected_at=at)
    StaffTask.objects.filter(case=case, kind=StaffTask.Kind.RESULT_UNFETCHED, done_at=None).update(
        done_at=at, done_by="kiosk", done_note="collected by the resident")


def check_unfetched(now: dt.datetime | None = None) -> int:
    """Results placed N days ago and still in the locker: one staff task and one reminder each."""
    now = now or timezone.now()
    limit = now - dt.timedelta(days=unfetched_days())
    raised = 0
    for ret in ResultReturn.objects.select_related("case", "case__kiosk").filter(
            placed_at__lte=limit, collected_at=None, reminded_at=None):
        with transaction.atomic():
            days = (now - ret.placed_at).days
            StaffTask.objects.get_or_create(case=ret.case, kind=StaffTask.Kind.RESULT_UNFETCHED, done_at=None,
                                            defaults={"note": f"{ret.case.kiosk.name} {ret.compartment_id}: "
                                                              f"not fetched for {days} days",
                                                      "due_date": timezone.localdate(now)})
            sms.queue_for(ret.case, Kind.REMINDER, "reminder", kiosk=ret.case.kiosk.name, days=days)
            ResultReturn.objects.filter(pk=ret.pk).update(reminded_at=now)
            raised += 1
        log.info("case %s: result not fetched after %d days, staff task raised", ret.case.case_code, days)
    return raised
