"""Every change to ratings: receiving one (kiosk or progress page), opening the rectification of a
差评, the call-back, the fix, the resident's rating of the fix, and forwarding. Views and the API
call these; each runs in one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

import contract
from backoffice.cases import workdays
from backoffice.cases.models import Case, CaseHistory
from backoffice.kiosks.models import Kiosk
from backoffice.ratings import forwarding
from backoffice.ratings.models import Rating, Rectification

log = logging.getLogger("backoffice.ratings")

RECTIFY_CHOICES = (5, 7, 10, 15)  # working days localities use


class RatingError(Exception):
    """A rating step refused; the message is shown."""


def config() -> dict[str, Any]:
    d: dict[str, Any] = {"rectify_working_days": 5, "forward": "", "forward_url": "", "forward_token": ""}
    d.update(getattr(settings, "RATINGS", {}))
    return d


def rectify_days() -> int:
    days = int(config()["rectify_working_days"])
    if days not in RECTIFY_CHOICES:
        raise RatingError(f"RATINGS rectify_working_days is {days}; choose one of {RECTIFY_CHOICES}")
    return days


def _clerk_of(case: Case | None) -> str:
    if case is None:
        return ""
    h = CaseHistory.objects.filter(case=case, action__in=("approve", "reject", "more_papers"),
                                   user__isnull=False).order_by("-at").first()
    return h.actor if h else ""


def _aware(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC)


def record(rating: contract.Rating, *, town: Any, kiosk: Kiosk | None, case: Case | None, rated_at: dt.datetime,
           occasion: str | None = None) -> tuple[Rating, bool]:
    """Store a rating once under its visit id; (rating, created). A second one for the visit changes nothing."""
    existing = Rating.objects.filter(rating_id=rating.rating_id).first()
    if existing is not None:
        return existing, False
    score = contract.RATING_SCORES[contract.RatingLevel(rating.level)]
    try:
        with transaction.atomic():
            r = Rating.objects.create(
                rating_id=rating.rating_id, case=case, occasion=occasion or rating.occasion, level=rating.level,
                score=score, reasons=list(rating.reasons), note=rating.note[:200], named=case is not None,
                town=town, kiosk=kiosk or (case.kiosk if case else None),
                village=(kiosk or (case.kiosk if case else None)).village if (kiosk or case) else "",
                service_id=case.service_id if case else "", service_name=case.service_name_zh if case else "",
                clerk=_clerk_of(case), rated_at=rated_at)
            if r.is_bad and r.occasion != "fix":
                Rectification.objects.create(rating=r, due_date=workdays.add_working_days(
                    timezone.localdate(), rectify_days()))
    except IntegrityError:  # the same visit's rating arrived through another app process just now
        return Rating.objects.get(rating_id=rating.rating_id), False
    log.info("rating %s (%s) for case %s from %s", r.level, r.occasion, case.case_code if case else "-",
             kiosk.kiosk_id if kiosk else "the progress page")
    return r, True


def receive_batch(kiosk: Kiosk, batch: contract.RatingBatch, *, clock_skew_s: float) -> contract.EventsReceipt:
    if batch.kiosk_id != kiosk.kiosk_id:
        raise contract.ContractError("ratings.kiosk_mismatch", "the batch names another kiosk", status=403)
    accepted: list[str] = []
    refused: dict[str, str] = {}
    for r in batch.ratings:
        case = None
        if r.case_code is not None:
            case = Case.objects.filter(case_code=r.case_code, kiosk=kiosk).first()
            if case is None:
                refused[r.rating_id] = "case.unknown: deliver the case first"
                continue
        record(r, town=kiosk.town, kiosk=kiosk, case=case, rated_at=_aware(r.at + clock_skew_s))
        accepted.append(r.rating_id)
    return contract.EventsReceipt(tuple(accepted), refused)


ONLINE_STATES = ("returned", "closed", "rejected")  # "done" for 一事一评


def rate_online(case: Case, level: str, reasons: list[str], note: str) -> tuple[Rating, bool]:
    """The progress page's rating of a finished case: one per case."""
    if case.state not in ONLINE_STATES:
        raise RatingError("办结后才能评价 You can rate once the case is done.")
    msg = _validated(f"online-{case.case_code}", case.case_code, "online", level, reasons, note)
    return record(msg, town=case.town, kiosk=None, case=case, rated_at=timezone.now())


def rate_fix(rect: Rectification, level: str, reasons: list[str], note: str) -> tuple[Rating, bool]:
    """The resident's one rating of how their 差评 was put right."""
    if rect.fixed_at is None:
        raise RatingError("整改完成后才能评价 You can rate the fix once it is done.")
    msg = _validated(f"fix-{rect.rating.rating_id}"[:100], rect.rating.case.case_code if rect.rating.case else None,
                     "online", level, reasons, note)
    with transaction.atomic():
        locked = Rectification.objects.select_for_update().get(pk=rect.pk)
        if locked.fix_rating_id is not None:
            return locked.fix_rating, False  # type: ignore[return-value]
        r, created = record(msg, town=rect.rating.town, kiosk=None, case=rect.rating.case,
                            rated_at=timezone.now(), occasion="fix")
        locked.fix_rating = r
        locked.save(update_fields=["fix_rating"])
    return r, created


def _validated(rating_id: str, case_code: str | None, occasion: str, level: str, reasons: list[str],
               note: str) -> contract.Rating:
    try:
        return contract.Rating.from_json({"rating_id": rating_id, "case_code": case_code, "occasion": occasion,
                                          "level": level, "reasons": reasons, "note": note.strip(),
                                          "at": timezone.now().timestamp()})
    except contract.ContractError as exc:
        raise RatingError(exc.message) from None


def record_callback(rect: Rectification, user: Any, note: str) -> None:
    if len(note.strip()) < 4:
        raise RatingError("请记录回访内容 Write what the resident said on the call-back.")
    Rectification.objects.filter(pk=rect.pk).update(callback_at=timezone.now(), callback_by=user.get_username(),
                                                    callback_note=note.strip())


def record_fix(rect: Rectification, user: Any, note: str) -> None:
    """Close the rectification; a named 差评 needs its call-back recorded first."""
    rect.refresh_from_db()
    if rect.rating.named and rect.callback_at is None:
        raise RatingError("实名差评须先回访 A named bad rating needs the call-back recorded first.")
    if len(note.strip()) < 4:
        raise RatingError("请说明整改情况 Say what was put right.")
    Rectification.objects.filter(pk=rect.pk).update(fixed_at=timezone.now(), fixed_by=user.get_username(),
                                                    fixed_note=note.strip())


def forward_due() -> tuple[int, int]:
    """Send ratings not yet forwarded to the provincial platform; (sent, failed)."""
    fwd = forwarding.from_settings(config())
    if fwd is None:
        return 0, 0
    sent = failed = 0
    for r in Rating.objects.filter(forwarded_at=None).select_related("case", "town", "kiosk").order_by("id")[:500]:
        try:
            fwd.forward(forwarding.record_of(r))
        except forwarding.ForwardError as exc:
            Rating.objects.filter(pk=r.pk).update(forward_attempts=r.forward_attempts + 1, forward_error=str(exc)[:300])
            failed += 1
            continue
        Rating.objects.filter(pk=r.pk).update(forwarded_at=timezone.now(), forward_attempts=r.forward_attempts + 1,
                                              forward_error="")
        sent += 1
    return sent, failed
