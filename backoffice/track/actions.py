"""What the public progress page may do: verify a visitor against a case, under rate limits,
recording every try. Views call only this; nothing here trusts the visitor's word beyond the
one answer they give (the pickup code or the last four characters of the ID number).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging

from django.conf import settings
from django.utils import timezone

import contract
from backoffice.cases.models import Case
from backoffice.track.models import TrackAttempt

log = logging.getLogger("backoffice.track")

Outcome = TrackAttempt.Outcome


def limits() -> dict[str, int]:
    d = {"per_case": 5, "per_address": 20, "window_minutes": 60, "verified_minutes": 15}
    d.update(getattr(settings, "TRACK", {}))
    return d


def addr_hash(addr: str) -> str:
    """A keyed hash of the visitor's address: equal addresses count together, none is kept readable."""
    return hmac.new(settings.SECRET_KEY.encode(), ("track-addr:" + addr).encode(), hashlib.sha256).hexdigest()


def find_case(code: str) -> Case | None:
    code = code.strip().upper()
    if not contract.CASE_CODE_RE.match(code):
        return None
    return Case.objects.select_related("kiosk").filter(case_code=code).first()


def _since() -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=limits()["window_minutes"])


def address_limited(addr: str) -> bool:
    """Too many wrong answers or unknown codes from this address in the window."""
    return TrackAttempt.objects.filter(addr_hash=addr_hash(addr), outcome__in=(Outcome.WRONG, Outcome.NOT_FOUND),
                                       at__gte=_since()).count() >= limits()["per_address"]


def case_limited(case: Case) -> bool:
    return TrackAttempt.objects.filter(case=case, outcome=Outcome.WRONG,
                                       at__gte=_since()).count() >= limits()["per_case"]


def record_not_found(code: str, addr: str) -> None:
    TrackAttempt.objects.create(case=None, case_code=code[:20], addr_hash=addr_hash(addr),
                                outcome=Outcome.NOT_FOUND)


def _pickup_code(case: Case) -> str | None:
    from backoffice.notifications.models import CaseSecret

    secret = CaseSecret.objects.filter(case=case).first()
    return secret.pickup_code() if secret is not None else None


def verify(case: Case, answer: str, addr: str) -> str:
    """Check the visitor's answer; returns the recorded outcome (ok / wrong / limited).

    Six digits are taken as the pickup code (when the kiosk sent it), four characters as the end
    of the ID number. A limited case or address is refused before the answer is even looked at,
    so a guesser learns nothing more once limited.
    """
    answer = answer.strip().upper()
    if case_limited(case) or address_limited(addr):
        outcome, method = Outcome.LIMITED, ""
    else:
        method = "pickup" if len(answer) == 6 and answer.isdigit() else "id4"
        if method == "pickup":
            expected = _pickup_code(case)
        else:
            expected = str(case.identity().get("id_number", ""))[-4:].upper() or None
        good = expected is not None and len(answer) in (4, 6) and hmac.compare_digest(answer, expected)
        outcome = Outcome.OK if good else Outcome.WRONG
    TrackAttempt.objects.create(case=case, case_code=case.case_code, addr_hash=addr_hash(addr), method=method,
                                outcome=outcome)
    log.info("track: case %s verification %s (%s)", case.case_code, outcome, method or "-")
    return str(outcome)
