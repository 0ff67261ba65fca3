"""A case's history in the words a resident understands, in Chinese and English.

The clerk's history names steps as the workflow does (``approve``, ``kiosk_result_placed``…);
the resident needs "结果已放入 … 号柜格". Only steps a resident cares about become lines; the
reason a clerk gave (reject, more papers) is shown only to a visitor who proved the case is theirs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

# action → (zh, en, carries the clerk's reason)
WORDS: dict[str, tuple[str, str, bool]] = {
    "received": ("已受理：材料已收到", "Received: your papers reached the town", False),
    "collect": ("工作人员已取走原件", "Originals collected by staff", False),
    "kiosk_collected": ("工作人员已取走原件", "Originals collected by staff", False),
    "process": ("正在办理", "Being processed", False),
    "papers_in": ("补充材料已收到，继续办理", "Extra papers received, processing again", False),
    "approve": ("审批通过，结果准备中", "Approved, the result is being prepared", False),
    "reject": ("未予通过", "Rejected", True),
    "more_papers": ("需要补充材料", "More papers needed", True),
    "result_to_locker": ("结果将送至自助柜", "The result is on its way to the kiosk", False),
    "kiosk_result_placed": ("结果已可领取", "Your result is ready to collect", False),
    "return": ("结果已交付", "Result handed over", False),
    "result_mailed": ("结果已寄出", "Result sent by mail", False),
    "kiosk_result_collected": ("结果已领取", "Result collected", False),
    "close": ("已办结", "Closed", False),
    "kiosk_cancelled": ("已取消", "Cancelled", False),
}


@dataclass(frozen=True)
class Line:
    at: dt.datetime
    zh: str
    en: str
    reason: str  # "" unless the step carries one and the visitor is verified
    hidden_reason: bool  # a reason exists but the visitor has not proved the case is theirs


def lines(case, verified: bool) -> list[Line]:  # type: ignore[no-untyped-def]
    out: list[Line] = []
    for h in case.history.all():
        words = WORDS.get(h.action)
        if words is None:
            continue
        zh, en, has_reason = words
        reason = h.note if has_reason else ""
        out.append(Line(timezone.localtime(h.occurred_at or h.at), zh, en, reason if verified else "",
                        bool(reason) and not verified))
    return out


STAGES = (("received", "已受理", "Received"), ("collected", "原件已取走", "Originals collected"),
          ("processing", "办理中", "Being processed"), ("ready", "结果可领取", "Result ready"),
          ("closed", "已办结", "Closed"))
_STAGE_OF = {"received": 0, "collected": 1, "processing": 2, "approved": 2, "rejected": 3, "more_papers": 2,
             "returned": 3, "closed": 4}


def stage_index(state: str) -> int:
    """Where the case is on the five-step bar (a rejection still has a result to hand back)."""
    return _STAGE_OF.get(state, 0)
