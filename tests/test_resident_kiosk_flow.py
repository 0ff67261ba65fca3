"""The resident's optional steps at the kiosk on the simulators: a mobile number after the papers
(a number that can never be a mainland mobile is said at once, stored sealed, masked in logs, sent
with the case with the pickup code), and the 好差评 rating after the receipt (five levels, reasons
for a 差评, skip, one per visit)."""

from __future__ import annotations

import logging

import pytest
from flow_support import (
    Resident,
    Rig,
    choose_service_and_scan,
    deposit_to_guide,
    place_result,
    press,
    wait_step,
    wait_until,
)

import contract
from flows.deposit import DepositFlow
from flows.machine import ENDED
from flows.resident_steps import ResidentSteps, Visit, mask_phone, phone_accepted, phone_problem
from flows.view import Screen
from kiosk.sync.package import build_package
from locker.resident import ResidentStore

PHONE = "13912345678"


@pytest.mark.parametrize(("typed", "problem"), [("", None), ("1", None), ("13", None), ("1391234567", None),
                                                ("2", "phone.not_mainland_mobile"), ("12", "phone.not_mainland_mobile"),
                                                ("139123456789", "phone.not_mainland_mobile"),
                                                ("13a", "phone.digits_only")])
def test_a_number_that_cannot_be_a_mainland_mobile_is_said_at_once(typed: str, problem: str | None) -> None:
    assert phone_problem(typed) == problem


def test_masking_and_acceptance() -> None:
    assert mask_phone(PHONE) == "139****5678" and phone_accepted(PHONE)
    assert not phone_accepted("1391234567") and not phone_accepted("12912345678")


def _deposit(rig: Rig, flow: DepositFlow, phone_actions: list[tuple[str, dict]],
             said: list[str] | None = None) -> tuple[str, str]:
    """A whole deposit with the phone step's presses in between; ``said`` collects what the step said."""
    person = deposit_to_guide(rig, flow)
    choose_service_and_scan(flow, then="phone")
    assert flow.view.screen is Screen.PHONE_ENTRY and set(flow.view.actions) >= {"phone", "skip"}
    for action, data in phone_actions:
        press(flow, action, **data)
        if flow.state == "phone" and said is not None:
            said.append(flow.view.message)
    wait_step(flow, "size")
    press(flow, "small")
    wait_step(flow, "door")
    compartment = str(flow.view.params["compartment"])
    person.close_door(compartment)
    wait_step(flow, "receipt")
    return str(flow.view.params["case_code"]), str(flow.view.params["pickup_code"])


def test_phone_and_bad_rating_are_kept_and_travel_with_the_case(rig: Rig, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    store = ResidentStore(rig.store.db, rig.store.submissions.cipher)
    flow = rig.deposit(resident=ResidentSteps(store))
    said: list[str] = []
    # A wrong number first: the step stays and says why; then the right one.
    case_code, pickup = _deposit(rig, flow, [("phone", {"phone": "12912345678"}), ("phone", {"phone": PHONE})], said)
    assert said == ["phone.not_mainland_mobile"]
    assert store.contact(case_code) == (PHONE, pickup)

    press(flow, "done")
    wait_step(flow, "rating")
    assert flow.view.screen is Screen.RATING
    assert [lv["id"] for lv in flow.view.params["levels"]] == [
        "very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied"]
    assert "skip" in flow.view.actions
    press(flow, "very_dissatisfied")
    wait_step(flow, "rating_why")
    press(flow, "reasons", reasons=["waiting", "device_failed", "nonsense"], note="读卡器坏了")
    wait_until(lambda: flow.state in (ENDED, "idle"), 10, "visit ended")
    assert flow.outcome == "committed"
    (rating,) = store.pending_ratings()
    assert (rating.case_code, rating.occasion, rating.level) == (case_code, "deposit", "very_dissatisfied")
    assert rating.reasons == ("waiting", "device_failed") and rating.note == "读卡器坏了"

    pkg = build_package(rig.store.submissions, flow.guide, "qidu-centre", case_code)
    assert pkg.phone == PHONE and pkg.pickup_code == pickup
    assert contract.CasePackage.from_json(pkg.to_json()) == pkg
    raw = b"".join(p.read_bytes() for p in rig.store.db.path.parent.glob(rig.store.db.path.name + "*"))
    assert PHONE.encode() not in raw  # sealed at rest (the database file and its WAL)
    assert PHONE not in caplog.text and "139****5678" in caplog.text


def test_skipping_both_steps_keeps_the_pickup_code_and_no_rating(rig: Rig) -> None:
    store = ResidentStore(rig.store.db, rig.store.submissions.cipher)
    flow = rig.deposit(resident=ResidentSteps(store))
    case_code, pickup = _deposit(rig, flow, [("skip", {})])
    assert store.contact(case_code) == (None, pickup)
    press(flow, "done")
    wait_step(flow, "rating")
    press(flow, "skip")
    wait_until(lambda: flow.state in (ENDED, "idle"), 10, "visit ended")
    assert flow.outcome == "committed" and store.pending_ratings() == []


def test_one_rating_per_visit_the_first_stands(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from locker.crypto import Cipher
    from locker.db import Database

    db = Database(tmp_path / "k.db")
    store = ResidentStore(db, Cipher(bytes(32)))
    visit = Visit("pickup", None)
    assert store.add_rating(visit.rating("satisfied"))
    assert not store.add_rating(visit.rating("very_dissatisfied", ("waiting",)))
    assert [r.level for r in store.pending_ratings()] == ["satisfied"]
    with pytest.raises(ValueError):
        store.save_contact("C3MRU76E", phone="12345", pickup_code="284615")


def test_a_result_pickup_ends_with_the_rating_and_a_time_out_still_collects(rig: Rig) -> None:
    from test_flow_staff_results import collect, deposit_one

    from flows.results import ResultPickupFlow

    case_code, pickup, compartment = deposit_one(rig)
    staff = rig.staff()
    collect(rig, staff, case_code, compartment)
    place_result(rig, staff, case_code)
    press(staff, "done")

    store = ResidentStore(rig.store.db, rig.store.submissions.cipher)
    flow = ResultPickupFlow(reader=rig.reader, face_frames=rig.face_frames, fingerprint=rig.sensor,
                            lockers=rig.lockers, submissions=rig.store.submissions, sessions=rig.sessions,
                            finger_timeout=5.0, resident=ResidentSteps(store))
    rig.flows.append(flow)
    press(flow, "start")
    press(flow, "code")
    rig.fpsim.ctl_place(finger="zhang-right-index")
    press(flow, "code", code=pickup)
    wait_until(lambda: rig.open_doors() == [[0, 2]], 10, "result compartment open")
    Resident(rig).close_door("M01")
    wait_step(flow, "rating")
    assert flow.view.screen is Screen.RATING
    # The resident walks away: the rating step times out, the pickup still counts as collected.
    flow.tick(flow.clock() + 10_000)
    wait_until(lambda: flow.state == ENDED, 10, "rating timed out")
    assert flow.outcome == "collected" and flow.view.message == "results.thank_you"
    assert store.pending_ratings() == []
