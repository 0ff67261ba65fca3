"""Which step of the visit a flow's View belongs to: the step bar's data, derived in the host.

Why here and not in each flow: the step bar groups the flows' states into the few steps a resident
can count ("读身份证 · 核验人脸 · 录指纹 …"); a retry, a confirmation or a "door opening" message
belongs to the step around it. The states are the flows' own names (``View.step``), so the flows
need not know about the bar, and two engineers editing a flow do not have to keep it in step.
"""

from __future__ import annotations

import dataclasses

from flows.machine import ENDED
from flows.view import View

DEPOSIT_STEPS = ("card", "face", "finger", "service", "papers", "store", "done")
PICKUP_STEPS = ("choose", "verify", "take", "done")

# flow name → state → index into that flow's steps
_DEPOSIT = {
    "card": 0,
    "identity": 0,
    "face": 1,
    "face_retry": 1,
    "fingerprint": 2,
    "fingerprint_retry": 2,
    "guide": 3,
    "documents": 4,
    "phone": 4,  # the number for the result's text: asked with the papers, before a compartment is chosen
    "size": 5,
    "door": 5,
    "receipt": 6,
    "rating": 6,  # 好差评 after the receipt: the visit is done, the bar says so
    "rating_why": 6,
}
_PICKUP = {"choose": 0, "card": 1, "code": 1, "face": 1, "fingerprint": 1, "door": 2, "rating": 3, "rating_why": 3}
FLOWS: dict[str, tuple[tuple[str, ...], dict[str, int]]] = {
    "deposit": (DEPOSIT_STEPS, _DEPOSIT),
    "results": (PICKUP_STEPS, _PICKUP),
}
# a run that ended well shows its last step ("完成") on the closing message
DONE_OUTCOMES = {"committed", "collected"}


def visit_step(flow_name: str, state: str, outcome: str | None = None) -> tuple[tuple[str, ...], int]:
    """(steps, index of the current one) for a flow's state; ((), -1) when no bar belongs there."""
    spec = FLOWS.get(flow_name)
    if spec is None:
        return (), -1
    steps, states = spec
    if state == ENDED:
        return (steps, len(steps) - 1) if outcome in DONE_OUTCOMES else ((), -1)
    index = states.get(state)
    return (steps, index) if index is not None else ((), -1)


def with_visit_step(view: View, flow_name: str, outcome: str | None = None) -> View:
    """The View with its step bar filled in (the same object when nothing changes)."""
    steps, index = visit_step(flow_name, view.step, outcome)
    if (steps, index) == (view.visit_steps, view.visit_step):
        return view
    return dataclasses.replace(view, visit_steps=steps, visit_step=index)
