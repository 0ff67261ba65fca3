"""The real runtime on `kiosk sim all`: a deposit, the staff pickup and the result going back, driven
through ``KioskHost`` events (what the touchscreen sends) and the simulators' control socket.

One kiosk for the module: the journeys follow each other as on a real day (the resident deposits,
staff collect and return the result, the resident fetches it with the pickup code and finger).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime_support import BLINK, FINGER, PAPER, SERVICE, Hands, simulators, wait_until, write_config

from flows.view import Screen, UserEvent
from kiosk.config import load_config
from kiosk.runtime import DEMO_BADGE, DEMO_PIN, KioskRuntime
from locker.submissions import CaseState

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KioskRuntime, Hands]]:
    tmp = tmp_path_factory.mktemp("runtime")
    config = write_config(tmp, pcsc=False)
    with simulators(config, tmp / "sim.log") as control:
        runtime = KioskRuntime(load_config(config), supervise_interval=0.5).start()
        try:
            yield runtime, Hands(control)
        finally:
            runtime.close()


def shows(
    runtime: KioskRuntime, screen: Screen, step: str | None = None, timeout: float = 20.0, *, busy: bool = False
) -> None:
    """Wait for a screen; by default until its buttons are live (no device working)."""

    def now() -> bool:
        v = runtime.host.publisher.view
        return v.screen is screen and (step is None or v.step == step) and (busy or not v.busy)

    wait_until(now, timeout, f"{screen.value}/{step} (now {runtime.host.publisher.view})")


def send(runtime: KioskRuntime, action: str, **data: object) -> None:
    runtime.host.send(UserEvent(action, dict(data)))


def compartment_door(runtime: KioskRuntime, compartment_id: str) -> dict[str, int]:
    spec = next(c for c in runtime.cfg.lockers.compartments if c.id == compartment_id)
    return {"board": spec.board, "lock": spec.lock}


def test_every_device_is_online_and_the_demo_staff_account_exists(kiosk) -> None:  # type: ignore[no-untyped-def]
    runtime, _ = kiosk
    for name in ("idcard", "fingerprint", "locker", "face_camera", "document_camera"):
        wait_until(lambda n=name: runtime.trackers()[n].status.usable, 15, f"{name} online")
    assert runtime.required_devices() == (
        "idcard", "face_camera", "fingerprint", "document_camera", "locker", "store", "compartments", "disk"
    )
    assert [m.badge_uid for m in runtime.staff_accounts.list_staff()] == [DEMO_BADGE]
    assert runtime.host.publisher.view.screen is Screen.IDLE


def test_deposit_then_staff_pickup_then_result_by_pickup_code(kiosk) -> None:  # type: ignore[no-untyped-def]
    runtime, hands = kiosk
    subs = runtime.store.submissions
    # -- the resident deposits ----------------------------------------------------------------
    send(runtime, "start")
    shows(runtime, Screen.CARD_PROMPT, timeout=5, busy=True)
    hands("face_camera", "show", path=str(BLINK))
    hands("document_camera", "show", path=str(PAPER))
    hands("idcard", "insert", card="zhang_san")
    shows(runtime, Screen.IDENTITY, timeout=20)
    assert runtime.host.publisher.view.params["id_number"].count("*") >= 10  # masked on screen
    send(runtime, "confirm")
    wait_until(lambda: runtime.host.publisher.view.screen is Screen.FINGERPRINT, 60, "face check passed")
    finger = threading.Thread(target=hands.enrol_finger, daemon=True)
    finger.start()
    shows(runtime, Screen.GUIDE, timeout=30)
    finger.join(5)
    hands("fingerprint", "lift")
    hands("idcard", "remove")
    send(runtime, "choose", service_id=SERVICE)
    shows(runtime, Screen.DOCUMENTS)
    send(runtime, "capture")
    wait_until(lambda: runtime.host.publisher.view.message == "document.page_ok", 30, "page scanned")
    send(runtime, "next")
    shows(runtime, Screen.DOCUMENTS, timeout=20)
    assert runtime.host.publisher.view.params["current"] == "photo_1inch"
    send(runtime, "skip")
    shows(runtime, Screen.COMPARTMENT_SIZE)
    send(runtime, "small")
    shows(runtime, Screen.DOOR_OPEN, timeout=20)
    compartment = runtime.host.publisher.view.params["compartment"]
    hands("locker", "close", **compartment_door(runtime, compartment))
    shows(runtime, Screen.RECEIPT, timeout=20)
    receipt = runtime.host.publisher.view.params
    case_code, pickup_code = receipt["case_code"], receipt["pickup_code"]
    assert receipt["compartment"] == compartment and subs.get_case(case_code).state is CaseState.COMMITTED
    assert subs.get_case(case_code).deferred_papers == ("photo_1inch",)
    send(runtime, "done")
    shows(runtime, Screen.IDLE, timeout=5)
    assert runtime.sessions.current is None and runtime.sessions.wipes == 1

    # -- staff collect it ----------------------------------------------------------------------
    runtime.host.badge_tapped(DEMO_BADGE)
    shows(runtime, Screen.STAFF_PIN, timeout=5)
    send(runtime, "pin", pin="000000")
    wait_until(lambda: runtime.host.publisher.view.message == "staff.wrong_pin", 5, "wrong PIN refused")
    send(runtime, "pin", pin=DEMO_PIN)
    shows(runtime, Screen.STAFF_PICKUPS, "pickups")
    assert [p["case_code"] for p in runtime.host.publisher.view.params["pending"]] == [case_code]
    send(runtime, "open", case_code=case_code)
    wait_until(lambda: runtime.host.publisher.view.message == "staff.opened", 20, "opened for staff")
    assert runtime.host.publisher.view.params["pending"][0]["opened"] is True
    hands("locker", "close", **compartment_door(runtime, compartment))
    send(runtime, "collected", case_code=case_code)
    wait_until(lambda: subs.get_case(case_code).state is CaseState.COLLECTED, 5, "collected")
    assert [r["case_code"] for r in runtime.host.publisher.view.params["results_due"]] == [case_code]
    # -- and put the result back ---------------------------------------------------------------
    send(runtime, "result", case_code=case_code, size="small")
    wait_until(lambda: runtime.host.publisher.view.message == "staff.result_door", 10, "result door")
    open_doors = lambda: hands("locker", "state")["open_doors"]  # noqa: E731
    door_seen_open = lambda: any(  # noqa: E731
        t.state.value == "door_opened" and t.purpose.value == "result" for t in runtime.lockers.unfinished()
    )
    wait_until(door_seen_open, 20, "result compartment seen open")  # closing sooner reads as jammed
    board, lock = open_doors()[0]
    hands("locker", "close", board=board, lock=lock)
    wait_until(lambda: runtime.host.publisher.view.message == "staff.result_placed", 20, "result placed")
    assert subs.get_case(case_code).state is CaseState.RESULT_READY
    send(runtime, "done")
    shows(runtime, Screen.IDLE, timeout=5)

    # -- the resident fetches it with the pickup code and the enrolled finger --------------------
    send(runtime, "pickup")
    shows(runtime, Screen.RESULT_PICKUP, "choose", timeout=5)
    send(runtime, "code")
    shows(runtime, Screen.CODE_ENTRY, timeout=5)
    hands("fingerprint", "place", finger=FINGER)  # a wrong code too asks for the finger (issue 12)
    send(runtime, "code", code="000000" if pickup_code != "000000" else "111111")
    wait_until(lambda: runtime.host.publisher.view.message == "results.code_unknown", 15, "wrong code refused")
    send(runtime, "code", code=pickup_code)
    shows(runtime, Screen.DOOR_OPEN, timeout=20)  # not busy: the door was seen open
    hands("fingerprint", "lift")
    assert [board, lock] in open_doors()
    hands("locker", "close", board=board, lock=lock)
    wait_until(lambda: runtime.host.publisher.view.message == "results.thank_you", 20, "thank you")
    assert subs.get_case(case_code).state is CaseState.RESULT_COLLECTED
    shows(runtime, Screen.MESSAGE)
    send(runtime, "ok")
    shows(runtime, Screen.IDLE, timeout=5)
    assert runtime.sessions.current is None


def test_a_badge_during_a_resident_session_is_ignored(kiosk) -> None:  # type: ignore[no-untyped-def]
    runtime, _ = kiosk
    send(runtime, "start")
    shows(runtime, Screen.CARD_PROMPT, timeout=5, busy=True)
    runtime.host.badge_tapped(DEMO_BADGE)
    assert runtime.host.publisher.view.screen is Screen.CARD_PROMPT
    send(runtime, "timeout")  # the app's inactivity time-out ends and wipes the session
    shows(runtime, Screen.IDLE, timeout=5)
    assert runtime.sessions.current is None


def test_an_unplugged_sensor_goes_offline_while_idle_and_comes_back(kiosk) -> None:  # type: ignore[no-untyped-def]
    runtime, hands = kiosk
    tracker = runtime.trackers()["fingerprint"]
    hands("fingerprint", "unplug")
    try:
        wait_until(lambda: not tracker.status.usable, 20, "fingerprint offline")
    finally:
        hands("fingerprint", "plug")
    wait_until(lambda: tracker.status.usable, 20, "fingerprint back online")


def test_close_stops_every_thread_it_started(tmp_path: Path) -> None:
    config = write_config(tmp_path, pcsc=False)
    before = {t.ident for t in threading.enumerate()}
    with simulators(config, tmp_path / "sim.log"):
        runtime = KioskRuntime(load_config(config), supervise_interval=0.5).start()
        wait_until(lambda: runtime.face_worker.alive, 60, "face worker started")
        runtime.close()
    left = [t.name for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert not left
    assert not runtime.face_worker.alive
    assert all(not s.tracker.status.usable for s in runtime.slots.values())


def test_the_kiosk_starts_with_every_device_down_and_takes_them_up_when_they_come(tmp_path: Path) -> None:
    config = write_config(tmp_path, pcsc=False)
    runtime = KioskRuntime(load_config(config), supervise_interval=0.3).start()
    try:
        trackers = runtime.trackers()
        assert all(not trackers[n].status.usable for n in runtime.required_devices() if n not in runtime.health)
        assert "kiosk sim" in trackers["face_camera"].detail  # says why, for the out-of-service screen
        assert runtime.host.publisher.view.screen is Screen.IDLE  # the app can show out of service
        with simulators(config, tmp_path / "sim.log"):
            for name in runtime.required_devices():
                wait_until(lambda n=name: trackers[n].status.usable, 30, f"{name} picked up")
            assert runtime.lockers_started and runtime.recovery is not None
    finally:
        runtime.close()
