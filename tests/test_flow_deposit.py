"""Resident deposit end to end on the simulators: ID-card, fingerprint and locker ptys, real SQLite,
the real face check on recorded frames and the real document scanner on a synthetic A4 photo."""

from __future__ import annotations

import time

from flow_support import (
    SERVICE,
    Resident,
    Rig,
    blurred_page_frame,
    choose_service_and_scan,
    confirm_identity,
    page_frame,
    press,
    wait_step,
    wait_until,
)

from devices.document.synthetic import a4_photo, empty_photo
from devices.face import FaceCheckConfig
from flows.deposit import DepositFlow
from flows.machine import ENDED, IDLE
from flows.view import Screen, View
from locker.submissions import CaseState, PaperStatus


def through_identity(rig: Rig, flow: DepositFlow, card: str = "zhang_san") -> Resident:
    """Card placed, face accepted, fingerprint enrolled: the guide is on screen."""
    person = Resident(rig)
    press(flow, "start")
    assert flow.view.screen is Screen.CARD_PROMPT
    person.place_card(card)
    confirm_identity(flow)
    wait_until(lambda: flow.state == "fingerprint", 20, "face accepted")
    person.enrol_finger()
    wait_step(flow, "guide")
    return person


def to_door(rig: Rig, flow: DepositFlow, size: str = "small") -> tuple[Resident, str]:
    person = through_identity(rig, flow)
    press(flow, "choose", service_id=SERVICE)
    wait_step(flow, "documents")
    press(flow, "capture")
    wait_step(flow, "documents")
    assert flow.view.params["pages"] == 1
    press(flow, "next")
    wait_step(flow, "documents")  # the photo (容缺) is next
    assert flow.view.params["current"] == "photo_1inch"
    press(flow, "skip")
    wait_step(flow, "size")
    press(flow, size)
    wait_step(flow, "door")
    assert flow.view.message == "door.put_papers_in"
    return person, flow.view.params["compartment"]


def test_happy_path_commits_alerts_staff_prints_receipt_and_wipes(rig: Rig) -> None:
    flow = rig.deposit()
    person, compartment = to_door(rig, flow)
    case_code = flow.run.case_code if flow.run else None
    assert rig.open_doors() == [list(rig.door_of(compartment))]
    person.close_door(compartment)
    wait_step(flow, "receipt")
    view = flow.view
    assert view.params["case_code"] == case_code
    assert view.params["qr_payload"].endswith(case_code)
    assert len(view.params["pickup_code"]) == 6
    case = rig.store.submissions.get_case(case_code)
    assert case.state is CaseState.COMMITTED and case.compartment_id == compartment
    assert case.papers == {"id_card": PaperStatus.SCANNED, "photo_1inch": PaperStatus.DEFERRED}
    assert rig.store.submissions.read_scan(case_code, "id_card", 0).startswith(b"%PDF")
    assert [a.case_code for a in rig.alerts("deposit")] == [case_code]
    wait_until(lambda: view.params.get("printing") is False or flow.view.params.get("printed"), 5, "printing")
    wait_until(lambda: len(rig.psim.jobs()) == 1, 5, "receipt printed")
    assert case_code.encode() in rig.psim.jobs()[0]
    # the session was wiped at commit, before the receipt
    assert rig.sessions.current is None or rig.sessions.current.record is None
    press(flow, "done")
    assert flow.state == IDLE and flow.outcome == "committed"
    assert rig.sessions.current is None and rig.sessions.wipes == 1
    assert rig.pulses() == {f"0:{rig.door_of(compartment)[1]}": 1}
    assert [c.id for c in rig.lockers.holding()] == [compartment]


def test_card_left_on_the_reader_by_the_last_person_is_not_read_again(rig: Rig) -> None:
    flow = rig.deposit(max_face_tries=1, face_config=FaceCheckConfig(mismatch_reject=2))
    rig.idsim.ctl_insert("li_si")  # biden's card, obama's face frames: refused at once
    press(flow, "start")
    confirm_identity(flow)
    wait_until(lambda: flow.state == ENDED, 20, "refusal")
    press(flow, "ok")
    press(flow, "start")
    reads = rig.idsim.reads
    time.sleep(1.0)  # three polls of the reader: the same card still lies there
    assert flow.state == "card" and rig.idsim.reads == reads
    rig.idsim.ctl_remove()
    rig.idsim.ctl_insert("zhang_san")
    wait_until(lambda: flow.state == "identity", 10, "new card read")


def test_expired_card_is_refused_and_nothing_is_stored(rig: Rig) -> None:
    flow = rig.deposit()
    press(flow, "start")
    rig.idsim.ctl_insert("expired")
    wait_until(lambda: flow.state == ENDED, 10, "refusal")
    assert flow.view.message == "card.expired" and flow.outcome == "refused"
    assert rig.store.db.query("SELECT COUNT(*) AS n FROM cases")[0]["n"] == 0
    assert rig.sessions.current is None


def test_face_mismatch_retries_then_sends_to_office_hours(rig: Rig) -> None:
    flow = rig.deposit(max_face_tries=2)
    press(flow, "start")
    rig.idsim.ctl_insert("li_si")
    confirm_identity(flow)
    wait_step(flow, "face_retry")
    assert flow.view.message == "face.rejected.mismatch"
    press(flow, "retry")
    wait_until(lambda: flow.state == ENDED, 20, "second refusal")
    assert flow.view.message == "flow.office_hours" and flow.outcome == "refused"
    assert rig.sessions.current is None


def test_returning_resident_is_verified_not_enrolled_and_a_wrong_finger_is_refused(rig: Rig) -> None:
    flow = rig.deposit(max_finger_tries=2)
    through_identity(rig, flow)
    press(flow, "cancel")
    press(flow, "ok")
    pages = rig.fingerprints.count()
    rig.fpsim.ctl_lift()
    rig.idsim.ctl_remove()
    press(flow, "start")
    time.sleep(0.7)  # the reader must see the field empty once before the same card counts as new
    rig.idsim.ctl_insert("zhang_san")
    confirm_identity(flow)
    wait_until(lambda: flow.state == "fingerprint", 20, "face accepted again")
    assert flow.view.params["mode"] == "verify"
    rig.fpsim.ctl_place(finger="someone-else")
    wait_step(flow, "fingerprint_retry")
    assert flow.view.message == "fingerprint.mismatch"
    rig.fpsim.ctl_place(finger="zhang-right-index")
    press(flow, "retry")
    wait_step(flow, "guide")
    assert rig.fingerprints.count() == pages == 1  # no second page for the same person


def test_retake_and_refused_skip_of_a_required_paper(rig: Rig) -> None:
    flow = rig.deposit()
    through_identity(rig, flow)
    press(flow, "choose", service_id=SERVICE)
    wait_step(flow, "documents")
    press(flow, "skip")  # the ID card copy is not 容缺
    assert flow.view.message == "document.skip_not_allowed" and flow.view.params["current"] == "id_card"
    rig.doc_frames.replace([blurred_page_frame()])
    press(flow, "capture")
    wait_step(flow, "documents")
    assert flow.view.message == "document.retake.blurred" and flow.view.params["pages"] == 0
    rig.doc_frames.replace([page_frame()])
    press(flow, "capture")
    wait_step(flow, "documents")
    press(flow, "add_page")
    wait_step(flow, "documents")
    assert flow.view.params["pages"] == 2
    press(flow, "retake")
    wait_step(flow, "documents")
    assert flow.view.params["pages"] == 2  # last page dropped and taken again


def test_full_size_offers_a_larger_one_and_a_jammed_door_gets_another_compartment(rig: Rig) -> None:
    for cid in ("S01", "S02"):
        rig.lockers.reserve("small", case_code=f"OTHER{cid}")
    flow = rig.deposit()
    through_identity(rig, flow)
    choose_service_and_scan(flow)
    press(flow, "small")
    assert flow.view.message == "locker.size_full_larger_offered"
    assert set(flow.view.actions) == {"medium", "large", "cancel"}
    rig.lsim.ctl_jam(*rig.door_of("M01"))
    press(flow, "medium")
    wait_step(flow, "door")
    assert flow.view.params["compartment"] == "L01"  # M01 jammed: the next size up
    Resident(rig).close_door("L01")
    wait_step(flow, "receipt")
    assert rig.pulses() == {"0:2": 1, "0:3": 1}
    assert rig.alerts("locker.door_jammed")


def test_cancel_before_the_door_opened_cancels_the_draft_and_frees_the_compartment(rig: Rig) -> None:
    flow = rig.deposit()
    through_identity(rig, flow)
    press(flow, "choose", service_id=SERVICE)
    wait_step(flow, "documents")
    code = flow.run.case_code if flow.run else ""
    press(flow, "cancel")
    assert flow.state == ENDED and flow.outcome == "cancelled"
    assert rig.store.submissions.get_case(code).state is CaseState.CANCELLED
    assert rig.sessions.current is None
    assert rig.pulses() == {}


def test_cancel_after_the_door_opened_keeps_the_papers_recorded(rig: Rig) -> None:
    flow = rig.deposit()
    person, compartment = to_door(rig, flow)
    code = flow.run.case_code if flow.run else ""
    press(flow, "cancel")
    assert flow.state == ENDED and flow.view.message == "door.cancelled_papers_kept"
    assert rig.sessions.current is None
    person.close_door(compartment)
    flow.wait_settled()
    case = rig.store.submissions.get_case(code)
    assert case.state is CaseState.COMMITTED and case.compartment_id == compartment
    assert [c.id for c in rig.lockers.holding()] == [compartment]
    assert "please check the compartment" in rig.store.db.query(
        "SELECT body FROM outbox WHERE case_code = ?", (code,)
    )[0]["body"]


def test_time_out_in_a_step_ends_the_run_and_wipes(rig: Rig) -> None:
    flow = rig.deposit()
    through_identity(rig, flow)
    flow.tick(flow.clock() + 10_000)
    assert flow.state == ENDED and flow.outcome == "timeout"
    assert rig.sessions.current is None
    flow.tick(flow.clock() + 20_000)
    assert flow.state == IDLE


def test_someone_elses_card_is_stopped_before_any_biometric_step(rig: Rig) -> None:
    flow = rig.deposit()
    press(flow, "start")
    rig.idsim.ctl_insert("zhang_san")
    wait_step(flow, "identity")
    assert flow.view.params["id_number"] == "1101************39" and flow.view.params["photo"] is not None
    press(flow, "not_me")
    wait_until(lambda: flow.state == ENDED, 10, "refusal")
    assert flow.view.message == "identity.use_own_card" and flow.outcome == "refused"
    assert rig.fpsim.ctl_state()["pages"] == []  # no fingerprint taken
    assert rig.store.db.query("SELECT COUNT(*) AS n FROM cases")[0]["n"] == 0
    assert rig.sessions.current is None


def test_the_live_outline_follows_the_paper_and_captured_pages_show_as_thumbnails(rig: Rig) -> None:
    """Before pressing scan the resident sees where the camera finds the page; after it, a small
    picture of each page taken, which goes (zeroed) once the paper is stored."""
    flow = rig.deposit(page_outline_interval=0.05)
    through_identity(rig, flow)
    press(flow, "choose", service_id=SERVICE)
    wait_step(flow, "documents")
    photo = a4_photo()
    h, w = photo.frame.shape[:2]
    truth = [[x / w, y / h] for x, y in photo.corners]

    def outline() -> list:
        return list(flow.view.params.get("page_quad") or [])

    wait_until(lambda: len(outline()) == 4, 10, "the page outlined on the preview")
    assert max(abs(a - b) for p, q in zip(outline(), truth, strict=True) for a, b in zip(p, q, strict=True)) < 0.02
    assert flow.view.params["thumbnails"] == []

    rig.doc_frames.replace([empty_photo().frame])  # the paper is taken off the desk
    wait_until(lambda: outline() == [], 10, "the outline gone with the paper")
    rig.doc_frames.replace([photo.frame])
    wait_until(lambda: len(outline()) == 4, 10, "the outline back")

    press(flow, "capture")
    wait_until(lambda: flow.view.params.get("pages") == 1 and not flow.view.busy, 20, "page taken")
    (thumb,) = flow.view.params["thumbnails"]
    assert max(thumb.shape[:2]) == 200 and thumb.shape[2] == 3
    assert thumb.shape[0] > thumb.shape[1]  # an upright A4 page, not the landscape camera frame
    assert thumb.std() > 10  # a picture of the page, not a blank
    wait_until(lambda: len(outline()) == 4, 10, "the outline live again after the scan")
    assert len(flow.view.params["thumbnails"]) == 1  # outline updates keep the thumbnails

    press(flow, "retake")
    wait_until(lambda: flow.view.params.get("pages") == 1 and not flow.view.busy, 20, "page retaken")
    (again,) = flow.view.params["thumbnails"]
    assert again is not thumb

    press(flow, "next")
    wait_until(lambda: flow.view.params.get("current") == "photo_1inch", 20, "the next paper")
    assert flow.view.params["thumbnails"] == []
    assert not again.any()  # the stored paper's picture is wiped from memory

    press(flow, "skip")
    wait_step(flow, "size")
    wait_until(lambda: not any(o.thread.is_alive() for o in flow.outliners), 5, "outline loops stopped")


def test_the_face_and_fingerprint_screens_show_progress_and_tell_when_to_lift(rig: Rig) -> None:
    flow = rig.deposit()
    seen: list[tuple[str, int, int]] = []
    bars: dict[str, list[float]] = {"face": [], "fingerprint": []}

    def watch(v: View) -> None:
        if v.step in bars and v.progress is not None:
            bars[v.step].append(v.progress)
        if v.step == "fingerprint":
            seen.append((v.message, v.params.get("capture"), v.params.get("done")))

    flow.publisher.subscribe(watch)
    person = Resident(rig)
    press(flow, "start")
    person.place_card("zhang_san")
    confirm_identity(flow)
    wait_until(lambda: flow.state == "fingerprint", 20, "face accepted")
    person.enrol_finger()
    wait_step(flow, "guide")
    steps = [s for i, s in enumerate(seen) if i == 0 or s != seen[i - 1]]
    assert steps[0] == ("fingerprint.place_first", 1, 0)
    want = [("fingerprint.lift", 1, 1), ("fingerprint.again", 2, 1), ("fingerprint.again", 2, 2)]
    it = iter(steps)
    assert all(any(s == w for s in it) for w in want), steps  # in this order
    # a progress bar from the first view of each step: face found, matched, blinked; both captures
    assert bars["face"][0] == 0.0 and max(bars["face"]) == 1.0 and 0.4 in bars["face"], bars["face"]
    assert bars["fingerprint"][0] == 0.0 and bars["fingerprint"][-1] == 1.0 and 0.5 in bars["fingerprint"]
