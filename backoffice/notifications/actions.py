"""Queueing and sending residents' text messages. ``queue_for`` is called inside the transaction of
the step that causes the message (so both exist or neither does); ``send_due`` runs from the
``sms_send`` command (a timer or ``make run``'s loop) and retries with a doubling wait.

Never log a whole number: the log and the outbox show ``139****5678``.
"""

from __future__ import annotations

import datetime as dt
import logging
import string
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from backoffice import crypto
from backoffice.cases.models import Case
from backoffice.notifications.gateway import GatewayError, from_setting
from backoffice.notifications.models import DEFAULT_TEXTS, CaseSecret, Kind, SmsMessage, SmsTemplate

log = logging.getLogger("backoffice.notifications")


def config() -> dict[str, Any]:
    d: dict[str, Any] = {"gateway": "", "token": "", "timeout_s": 10.0, "retry_min_s": 30.0,
                         "retry_max_s": 3600.0, "batch": 200}
    d.update(getattr(settings, "SMS", {}))
    return d


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def render_text(kind: str, params: dict[str, Any]) -> str:
    """The admin's template for ``kind`` (or the default) with the case's values; an unknown
    placeholder an admin typed becomes empty rather than failing the step."""
    tpl = SmsTemplate.objects.filter(kind=kind).values_list("text", flat=True).first() or DEFAULT_TEXTS[kind]
    try:
        return string.Formatter().vformat(tpl, (), _Blank({k: str(v) for k, v in params.items()}))
    except (ValueError, IndexError):  # a stray brace in an edited template: fall back, never lose the message
        return string.Formatter().vformat(DEFAULT_TEXTS[kind], (), _Blank({k: str(v) for k, v in params.items()}))


def store_pickup_code(case: Case, pickup_code: str | None) -> None:
    if pickup_code:
        CaseSecret.objects.update_or_create(case=case, defaults={"pickup_sealed": crypto.seal(pickup_code)})


def queue_for(case: Case, kind: str, key: str = "", **params: Any) -> SmsMessage | None:
    """Queue one message to the case's phone; nothing when the resident gave no number. Same
    (case, kind, key) twice queues once."""
    phone = case.phone()
    if not phone:
        return None
    base = {"town": case.town.name, "service": case.service_name_zh, "case_code": case.case_code}
    text = render_text(kind, base | params)
    try:
        with transaction.atomic():
            msg = SmsMessage.objects.create(case=case, kind=kind, key=key[:60], to_sealed=crypto.seal(phone),
                                            to_masked=crypto.mask_phone(phone), body_sealed=crypto.seal(text),
                                            next_try_at=timezone.now())
    except IntegrityError:
        return None
    log.info("sms %s queued for case %s to %s", kind, case.case_code, msg.to_masked)
    return msg


def send_due(now: dt.datetime | None = None) -> tuple[int, int]:
    """Send every message whose time has come; returns (sent, failed). A gateway that is down
    leaves the messages queued with the reason, for the case page and the next run."""
    cfg = config()
    gateway = from_setting(cfg["gateway"], timeout_s=float(cfg["timeout_s"]), token=cfg["token"])
    now = now or timezone.now()
    sent = failed = 0
    due = list(SmsMessage.objects.filter(sent_at=None, next_try_at__lte=now).order_by("next_try_at", "id")
               [:int(cfg["batch"])])
    for msg in due:
        try:
            if gateway is None:
                raise GatewayError("no SMS gateway configured (BACKOFFICE_SMS_GATEWAY)")
            gateway.send(msg.to(), msg.body(), f"sms-{msg.pk}")
        except GatewayError as exc:
            wait = min(float(cfg["retry_max_s"]), float(cfg["retry_min_s"]) * 2 ** msg.attempts)
            SmsMessage.objects.filter(pk=msg.pk).update(attempts=msg.attempts + 1, last_error=str(exc)[:300],
                                                        next_try_at=now + dt.timedelta(seconds=wait))
            log.warning("sms %s for case %s to %s not sent (try %d): %s", msg.kind, msg.case_id, msg.to_masked,
                        msg.attempts + 1, exc)
            failed += 1
            continue
        SmsMessage.objects.filter(pk=msg.pk).update(attempts=msg.attempts + 1, sent_at=timezone.now(),
                                                    last_error="")
        log.info("sms %s for case %s sent to %s", msg.kind, msg.case_id, msg.to_masked)
        sent += 1
    return sent, failed


def make_all_due() -> int:
    """After fixing the gateway: try everything waiting now rather than after its back-off."""
    return SmsMessage.objects.filter(sent_at=None).update(next_try_at=timezone.now())


OUTCOME_WORDS = {"approved": "审批通过", "rejected": "未予通过", "more_papers": "需补充材料",
                 "returned": "结果已交付", "closed": "已办结"}


def on_step(case: Case, step_name: str, history_key: str) -> None:
    """The message a clerk's step sends (called by cases.actions.take_step in its transaction)."""
    if step_name == "more_papers":
        queue_for(case, Kind.MORE_PAPERS, history_key, reason=case.decision_reason)
    elif step_name in ("approve", "reject"):
        queue_for(case, Kind.DONE, history_key, outcome=OUTCOME_WORDS.get(case.state, ""),
                  reason=case.decision_reason)
