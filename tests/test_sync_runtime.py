"""The whole path as `make run` has it: a resident deposits on the real runtime over `kiosk sim all`,
and the case appears in the real back office with its scans; staff collect it, and the back office
shows it collected. The kiosk is enrolled with `kiosk enrol`, as scripts/run.sh does."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from runtime_support import BLINK, PAPER, SERVICE, Hands, wait_until
from sync_support import Backoffice, enrolled_runtime

from flows.view import Screen, UserEvent
from kiosk.runtime import DEMO_BADGE, DEMO_PIN, KioskRuntime
from locker.submissions import CaseState

pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KioskRuntime, Hands, Backoffice]]:
    tmp = tmp_path_factory.mktemp("sync-runtime")
    # The face check may be starved on a loaded test machine: generous tries and step limits.
    with enrolled_runtime(tmp, lambda text: text.replace(
            "[flows]\nmax_face_tries = 3", "[flows]\nmax_face_tries = 10\n"
            "timeouts = { face = 600, face_retry = 600, fingerprint = 300 }")) as running:
        yield running


def show(runtime: KioskRuntime, screen: Screen, timeout: float = 20.0) -> None:
    wait_until(lambda: runtime.host.publisher.view.screen is screen and not runtime.host.publisher.view.busy,
               timeout, f"{screen.value} (now {runtime.host.publisher.view})")


def send(runtime: KioskRuntime, action: str, **data: object) -> None:
    runtime.host.send(UserEvent(action, dict(data)))


def door(runtime: KioskRuntime, compartment_id: str) -> dict[str, int]:
    spec = next(c for c in runtime.cfg.lockers.compartments if c.id == compartment_id)
    return {"board": spec.board, "lock": spec.lock}


def test_a_deposit_shows_in_the_back_office_with_its_scans_then_collected(running) -> None:  # noqa: ANN001
    runtime, hands, backoffice = running
    assert runtime.delivery is not None
    send(runtime, "start")
    wait_until(lambda: runtime.host.publisher.view.screen is Screen.CARD_PROMPT, 5, "card prompt")
    hands("face_camera", "show", path=str(BLINK))
    hands("document_camera", "show", path=str(PAPER))
    hands("idcard", "insert", card="zhang_san")
    show(runtime, Screen.IDENTITY)
    send(runtime, "confirm")

    pressed: list[object] = []

    def face_passed() -> bool:  # a starved face worker times out: the resident presses "again", once per offer
        view = runtime.host.publisher.view
        if view.screen is Screen.FACE and "retry" in view.actions and not view.busy and view not in pressed:
            pressed.append(view)
            send(runtime, "retry")
        return view.screen is Screen.FINGERPRINT

    wait_until(face_passed, 900, "face check passed")
    finger = threading.Thread(target=hands.enrol_finger, daemon=True)
    finger.start()
    show(runtime, Screen.GUIDE, timeout=30)
    finger.join(5)
    hands("fingerprint", "lift")
    hands("idcard", "remove")
    send(runtime, "choose", service_id=SERVICE)
    show(runtime, Screen.DOCUMENTS)
    send(runtime, "capture")
    wait_until(lambda: runtime.host.publisher.view.message == "document.page_ok", 30, "page scanned")
    send(runtime, "next")
    show(runtime, Screen.DOCUMENTS)
    send(runtime, "skip")  # the second paper is 容缺
    show(runtime, Screen.COMPARTMENT_SIZE)
    send(runtime, "small")
    show(runtime, Screen.DOOR_OPEN)
    compartment = runtime.host.publisher.view.params["compartment"]
    hands("locker", "close", **door(runtime, compartment))
    show(runtime, Screen.RECEIPT)
    case_code = runtime.host.publisher.view.params["case_code"]
    send(runtime, "done")

    # The back office has it, whole, with nobody pressing anything on the kiosk.
    def arrived() -> bool:
        case = backoffice.cases().get(case_code)
        return bool(case and case["files"] and all(f["complete"] for f in case["files"].values()))

    wait_until(arrived, 60, "the case in the back office's inbox with its scans")
    held = backoffice.cases()[case_code]
    assert held["compartment"] == compartment and held["fingerprint"] and held["receipt_printed"]
    assert held["face_distance"] is not None and held["face_distance"] < 0.6 and held["frames"] > 0
    assert list(held["papers"].values()).count("deferred") == 1
    assert all(f["pages"] >= 1 for f in held["files"].values())  # a real PDF the case page can render
    wait_until(lambda: runtime.delivery.queue.get(case_code).acknowledged_at is not None, 10, "acknowledged")
    # What the clerk sees: the case in the inbox, and its scan as a page image on the case page.
    clerk = backoffice.clerk()
    assert case_code in clerk.open(f"{backoffice.url}/", timeout=60).read().decode()
    file_id = next(iter(held["files"]))
    png = clerk.open(f"{backoffice.url}/cases/{case_code}/scans/{file_id}/1.png", timeout=60).read()
    assert png.startswith(b"\x89PNG")

    # Staff collect the papers at the kiosk: the back office's case moves on by itself.
    runtime.host.badge_tapped(DEMO_BADGE)
    show(runtime, Screen.STAFF_PIN, timeout=5)
    send(runtime, "pin", pin=DEMO_PIN)
    show(runtime, Screen.STAFF_PICKUPS)
    send(runtime, "open", case_code=case_code)
    wait_until(lambda: runtime.host.publisher.view.message == "staff.opened", 20, "opened for staff")
    hands("locker", "close", **door(runtime, compartment))
    send(runtime, "collected", case_code=case_code)
    wait_until(lambda: runtime.store.submissions.get_case(case_code).state is CaseState.COLLECTED, 5, "collected")
    wait_until(lambda: backoffice.cases()[case_code]["state"] == "collected", 60, "collected in the back office")
    assert [e["kind"] for e in backoffice.events() if e["case"] == case_code] == ["collected"]
