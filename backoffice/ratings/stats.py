"""Ratings counted by service, kiosk, village or clerk over a period: what a town's supervisor
reviews, with the satisfaction rate (满意度: the share of the three satisfied levels)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q, QuerySet

from backoffice.ratings.models import LEVELS, Rating

GROUPS = {"service": "service_name", "kiosk": "kiosk__name", "village": "village", "clerk": "clerk"}


def table(qs: QuerySet[Rating], by: str, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    field = GROUPS.get(by, "service_name")
    qs = qs.filter(rated_at__date__gte=start, rated_at__date__lte=end).exclude(occasion="fix")
    rows = qs.values(field).annotate(total=Count("id"), **{lvl: Count("id", filter=Q(level=lvl))
                                                           for lvl, *_ in LEVELS}).order_by(field)
    out = []
    for r in rows:
        good = r["very_satisfied"] + r["satisfied"] + r["basically_satisfied"]
        out.append({"key": r[field] or "—", "total": r["total"], "levels": [r[lvl] for lvl, *_ in LEVELS],
                    "bad": r["dissatisfied"] + r["very_dissatisfied"],
                    "rate": round(100 * good / r["total"], 1) if r["total"] else 0.0})
    return out
