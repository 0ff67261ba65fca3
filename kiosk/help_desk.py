"""一键呼叫: a resident asks for a person; the on-duty staff are alerted at once.

Why a structured payload: the alert goes out through the same outbox as every other staff alert
(apprise: DingTalk, WeCom, e-mail …), where a person reads the title, and later to the back office,
which opens a help request from it. So the body is one JSON object with fixed keys — the kiosk,
the step, how long the resident has been at it — and nothing about who the resident is: no name,
no ID number, no case code. The same object is the audit row's detail.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from flows.ports import AlertPort, AuditPort

log = logging.getLogger(__name__)

ALERT_KIND = "help_requested"
AUDIT_ACTION = "kiosk.help_requested"
REPEAT_AFTER_S = 60.0  # presses closer together than this are one call (an anxious resident taps twice)


@dataclass(frozen=True)
class HelpRequest:
    """What staff (and later the back office) get; every field is non-personal."""

    kiosk: str
    flow: str  # "deposit", "results", or "" at the idle screen
    screen: str
    step: str  # the step bar's key ("papers") when there is one, else the flow state
    visit_seconds: int  # since the resident started this visit (0 at the idle screen)
    step_seconds: int  # on this step
    at: float  # wall-clock time of the press (epoch seconds)
    repeat: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)


class HelpDesk:
    """Queues the staff alert and writes the audit row; returns whether a new alert went out."""

    def __init__(
        self,
        kiosk: str,
        alerts: AlertPort | None,
        audit: AuditPort | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.kiosk = kiosk
        self.alerts = alerts
        self.audit = audit
        self.clock = clock
        self.wall = wall
        self._last: float | None = None
        self.requests: list[HelpRequest] = []  # this process's calls, for tests and the log

    def call(self, *, flow: str, screen: str, step: str, visit_seconds: float, step_seconds: float) -> HelpRequest:
        now = self.clock()
        repeat = self._last is not None and now - self._last < REPEAT_AFTER_S
        request = HelpRequest(
            kiosk=self.kiosk,
            flow=flow,
            screen=screen,
            step=step,
            visit_seconds=int(visit_seconds),
            step_seconds=int(step_seconds),
            at=round(self.wall(), 3),
            repeat=repeat,
        )
        self.requests.append(request)
        if self.audit is not None:
            self.audit.append("resident", AUDIT_ACTION, detail=_detail(request))
        if repeat:
            log.info("help pressed again at %s/%s: staff already called", screen, step)
            return request
        self._last = now
        log.warning("help requested at %s: %s/%s after %d s", self.kiosk, flow or "idle", step, request.visit_seconds)
        if self.alerts is not None:
            minutes = max(1, round(request.visit_seconds / 60)) if request.visit_seconds else 0
            title = f"一键呼叫 Help requested: {self.kiosk}"
            if flow:
                title += f" ({step}, {minutes} min)"
            self.alerts.enqueue(ALERT_KIND, title, request.to_json())
        return request


def _detail(request: HelpRequest) -> dict[str, Any]:
    return {k: v for k, v in asdict(request).items() if k != "at"}
