"""The case workflow as data: which step leads where, who may take it, and what it needs.

received → originals collected → processing → approved / rejected / more papers needed
→ result returned (locker, counter, mail) → closed. "More papers" goes back to processing when
they arrive. Taken in the spirit of DIGIT's workflow: states, actions, roles.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from backoffice.accounts.models import Role
from backoffice.cases.models import State


@dataclass(frozen=True)
class Step:
    name: str
    label: object  # lazy translation
    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...]
    needs_reason: bool = False
    needs_channel: bool = False


_CLERKS = (Role.CLERK, Role.SUPERVISOR)

STEPS: dict[str, Step] = {s.name: s for s in (
    Step("collect", _("Originals collected"), (State.RECEIVED,), State.COLLECTED, (*_CLERKS, Role.KIOSK_STAFF)),
    Step("process", _("Start processing"), (State.COLLECTED,), State.PROCESSING, _CLERKS),
    Step("approve", _("Approve"), (State.PROCESSING,), State.APPROVED, _CLERKS),
    Step("reject", _("Reject"), (State.PROCESSING,), State.REJECTED, _CLERKS, needs_reason=True),
    Step("more_papers", _("Ask for more papers"), (State.PROCESSING,), State.MORE_PAPERS, _CLERKS,
         needs_reason=True),
    Step("papers_in", _("Papers handed in"), (State.MORE_PAPERS,), State.PROCESSING, _CLERKS),
    Step("return", _("Result returned"), (State.APPROVED, State.REJECTED, State.MORE_PAPERS), State.RETURNED,
         (*_CLERKS, Role.KIOSK_STAFF), needs_channel=True),
    Step("close", _("Close"), (State.RETURNED,), State.CLOSED, _CLERKS),
)}


def steps_for(state: str, role: str | None) -> list[Step]:
    """The steps a user with ``role`` can take on a case in ``state`` (what the case page offers)."""
    return [s for s in STEPS.values() if state in s.sources and role in s.roles]
