"""Who may see what: the one place that narrows querysets to a user's town and kiosks."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from backoffice.accounts.models import Profile, Role


def profile_of(user: Any) -> Profile | None:
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.profile
    except Profile.DoesNotExist:
        return None


def role_of(user: Any) -> str | None:
    p = profile_of(user)
    return p.role if p else None


def visible_cases(user: Any) -> QuerySet:
    """Cases of the user's town; for kiosk staff only those of their kiosks; nothing without a profile."""
    from backoffice.cases.models import Case

    p = profile_of(user)
    if p is None:
        return Case.objects.none()
    qs = Case.objects.filter(town_id=p.town_id)
    if p.role == Role.KIOSK_STAFF:
        qs = qs.filter(kiosk__in=p.kiosks.all())
    return qs


def visible_kiosks(user: Any) -> QuerySet:
    from backoffice.kiosks.models import Kiosk

    p = profile_of(user)
    if p is None:
        return Kiosk.objects.none()
    qs = Kiosk.objects.filter(town_id=p.town_id)
    if p.role == Role.KIOSK_STAFF:
        qs = qs.filter(pk__in=p.kiosks.all())
    return qs


def case_for(user: Any, case_code: str) -> Any:
    """A case the user may open, else 404 (another town's case looks like no case at all)."""
    case = visible_cases(user).filter(case_code=case_code).select_related("kiosk", "town").first()
    if case is None:
        raise Http404("no such case")
    return case
