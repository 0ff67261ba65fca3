"""The resident's optional steps at the kiosk (issue 14), as plain logic the flows and screens share:
the mobile number (checked digit by digit, so a number that can never be a mainland mobile is said
at once on the numpad) and the 好差评 rating (five levels, reasons for a 差评, one per visit).

No Kivy and no devices here: the phone screen asks ``phone_problem`` after every key, the deposit
flow asks ``phone_accepted`` when the resident confirms.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import contract

log = logging.getLogger(__name__)

PHONE_DIGITS = 11

# The five levels, best first, each with the picture the rating screen shows and its words.
LEVELS: tuple[tuple[str, str, str, str], ...] = (
    ("very_satisfied", "非常满意", "Very satisfied", "rating_5"),
    ("satisfied", "满意", "Satisfied", "rating_4"),
    ("basically_satisfied", "基本满意", "Basically satisfied", "rating_3"),
    ("dissatisfied", "不满意", "Dissatisfied", "rating_2"),
    ("very_dissatisfied", "非常不满意", "Very dissatisfied", "rating_1"),
)
REASONS: tuple[str, ...] = tuple(r.value for r in contract.RatingReason)


def phone_problem(digits: str) -> str | None:
    """A message key as soon as what was typed cannot become a mainland mobile number, else None."""
    if not digits:
        return None
    if not digits.isdigit():
        return "phone.digits_only"
    if digits[0] != "1" or (len(digits) > 1 and digits[1] not in "3456789") or len(digits) > PHONE_DIGITS:
        return "phone.not_mainland_mobile"
    return None


def phone_accepted(digits: str) -> bool:
    return contract.is_mainland_mobile(digits)


def mask_phone(digits: str) -> str:
    """139****5678: what the screen shows after entry and what a log may hold."""
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) == PHONE_DIGITS else "*" * len(digits)


@dataclass
class Visit:
    """One resident's visit: its id keys the rating, so a second one for the visit is ignored."""

    occasion: str  # contract.RatingOccasion: deposit / pickup
    case_code: str | None
    visit_id: str = ""

    def __post_init__(self) -> None:
        if not self.visit_id:
            self.visit_id = f"{self.occasion}-{uuid.uuid4().hex[:20]}"

    def rating(self, level: str, reasons: tuple[str, ...] = (), note: str = "",
               at: float | None = None) -> contract.Rating:
        """The rating message; reasons and note are kept only for a 差评, as the rules say."""
        bad = level in {b.value for b in contract.BAD_RATINGS}
        return contract.Rating.from_json({
            "rating_id": self.visit_id, "case_code": self.case_code, "occasion": self.occasion, "level": level,
            "reasons": list(dict.fromkeys(reasons)) if bad else [], "note": note.strip()[:contract.MAX_RATING_NOTE]
            if bad else "", "at": time.time() if at is None else at})


# -- the steps inside a flow ----------------------------------------------------------------------------
PHONE = "phone"
RATING = "rating"
RATING_WHY = "rating_why"
LEVEL_ACTIONS = tuple(v for v, *_ in LEVELS)


@dataclass
class ResidentSteps:
    """What a flow needs for the optional steps: where contact and ratings are kept, and which steps run."""

    store: Any  # locker.resident.ResidentStore
    ask_phone: bool = True
    ask_rating: bool = True


class ResidentStepsMixin:
    """The phone and rating steps, shared by the deposit and the result pickup flows.

    The host flow provides ``enter``/``end``/``resident`` and calls ``_enter_phone(case, pickup,
    then)`` after the papers and ``_enter_rating(occasion, case, then)`` at its end; ``then`` is
    what the flow does next (choose a size; end the visit). The screens: ``Screen.PHONE_ENTRY`` (a
    numpad that checks each digit with ``phone_problem``) and ``Screen.RATING`` (five pictures).
    """

    resident: ResidentSteps | None
    _phone_then: Any = None
    _phone_case: tuple[str, str | None] = ("", None)
    _rating_then: Any = None
    _visit: Visit | None = None
    _rating_level: str = ""

    # -- phone -----------------------------------------------------------------------------------------
    def _enter_phone(self, case_code: str, pickup_code: str | None, then: Any) -> None:
        self._phone_then, self._phone_case = then, (case_code, pickup_code)
        if self.resident is None:
            then()
            return
        if not self.resident.ask_phone:
            self.resident.store.save_contact(case_code, phone=None, pickup_code=pickup_code)
            then()
            return
        self._show_phone("phone.enter")

    def _show_phone(self, message: str, typed: str = "") -> None:
        from flows.view import Screen

        self.enter(PHONE, Screen.PHONE_ENTRY, message,  # type: ignore[attr-defined]
                   params={"length": PHONE_DIGITS, "typed_masked": mask_phone(typed) if typed else ""},
                   actions=("phone", "skip", "cancel"))

    def _phone_action(self, action: str, data: dict[str, Any]) -> None:
        assert self.resident is not None
        case_code, pickup = self._phone_case
        if action == "skip":
            self.resident.store.save_contact(case_code, phone=None, pickup_code=pickup)
            self._phone_then()
            return
        if action != "phone":
            return
        digits = str(data.get("phone", "")).strip()
        if not phone_accepted(digits):
            self._show_phone(phone_problem(digits) or "phone.incomplete")
            return
        self.resident.store.save_contact(case_code, phone=digits, pickup_code=pickup)
        log.info("case %s: mobile number %s given for text messages", case_code, mask_phone(digits))
        self._phone_then()

    # -- rating ----------------------------------------------------------------------------------------
    def _enter_rating(self, occasion: str, case_code: str | None, then: Any) -> None:
        self._rating_then = then
        if self.resident is None or not self.resident.ask_rating:
            then()
            return
        from flows.view import Screen

        self._visit = Visit(occasion, case_code)
        self.enter(RATING, Screen.RATING, "rating.ask",  # type: ignore[attr-defined]
                   params={"levels": [{"id": v, "zh": zh, "en": en, "picture": pic} for v, zh, en, pic in LEVELS]},
                   actions=(*LEVEL_ACTIONS, "skip"))

    def _rating_action(self, action: str, data: dict[str, Any]) -> None:
        if action == "skip":
            self._rating_then()
        elif action in LEVEL_ACTIONS:
            if action in {b.value for b in contract.BAD_RATINGS}:
                from flows.view import Screen

                self._rating_level = action
                self.enter(RATING_WHY, Screen.RATING, "rating.why",  # type: ignore[attr-defined]
                           params={"reasons": list(REASONS), "level": action}, actions=("reasons", "skip"))
                return
            self._keep_rating(action, (), "")

    def _rating_why_action(self, action: str, data: dict[str, Any]) -> None:
        if action == "skip":  # no reasons given: the 差评 itself still counts
            self._keep_rating(self._rating_level, (), "")
        elif action == "reasons":
            picked = tuple(r for r in data.get("reasons", ()) if r in REASONS)
            self._keep_rating(self._rating_level, picked, str(data.get("note", ""))[:contract.MAX_RATING_NOTE])

    def _keep_rating(self, level: str, reasons: tuple[str, ...], note: str) -> None:
        assert self.resident is not None and self._visit is not None
        try:
            self.resident.store.add_rating(self._visit.rating(level, reasons, note))
        except Exception:  # a rating is never worth failing the resident's visit over
            log.exception("rating not kept")
        self._rating_then()
