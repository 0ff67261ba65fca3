"""The host's part of the older villager's visit, on the real deposit flow, simulators and store:
the step bar follows the visit, 一键呼叫 reaches the staff outbox and the audit log with nothing
personal, elder mode doubles the step time-outs, and a card left on the reader after the visit
brings up the reminder until it is taken.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from flow_support import Rig, confirm_identity, press, wait_until

from flows.machine import IDLE, FlowMachine
from flows.view import Screen, UserEvent
from kiosk.help_desk import ALERT_KIND, AUDIT_ACTION, HelpDesk
from kiosk.host import CARD_LEFT_STEP, KioskHost, card_presence
from kiosk.visit_steps import DEPOSIT_STEPS, PICKUP_STEPS, visit_step


class Idle(FlowMachine):
    """A flow that stays at idle (the results and staff seats of the host)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.flow_name = name

    def on_action(self, state: str, action: str, data: dict[str, Any]) -> None:
        pass

    def badge_tapped(self, uid: str) -> None:
        pass


def make_host(rig: Rig) -> tuple[KioskHost, Any]:
    deposit = rig.deposit()
    host = KioskHost(deposit, Idle("results"), Idle("staff"))
    host.attach(help_desk=HelpDesk("测试镇便民服务中心", rig.outbox, rig.store.audit),
                card_present=card_presence(rig.reader))
    return host, deposit


def help_rows(rig: Rig) -> list[dict[str, Any]]:
    return [dict(r) for r in rig.outbox.db.query("SELECT kind, title, body FROM outbox WHERE kind = ?", (ALERT_KIND,))]


def test_the_step_bar_follows_a_deposit_and_help_reaches_staff_without_personal_data(rig: Rig) -> None:
    host, deposit = make_host(rig)
    try:
        assert host.publisher.view.visit_steps == ()  # idle: no bar
        host.send(UserEvent("start"))
        view = host.publisher.view
        assert view.screen is Screen.CARD_PROMPT and view.visit_steps == DEPOSIT_STEPS and view.visit_step == 0
        rig.idsim.ctl_insert("zhang_san")
        wait_until(lambda: deposit.state == "identity", 10, "card read")
        assert host.publisher.view.visit_step == 0  # "is this you?" belongs to the card step
        confirm_identity(deposit)
        wait_until(lambda: host.publisher.view.screen is Screen.FACE, 10, "face step")
        assert host.publisher.view.visit_step == 1

        host.send(UserEvent("help"))
        rows = help_rows(rig)
        assert len(rows) == 1  # one configured alert URL in the rig: one row
        body = json.loads(rows[0]["body"])
        assert body["kiosk"] == "测试镇便民服务中心" and body["step"] == "face" and body["flow"] == "deposit"
        assert body["screen"] == "face" and body["visit_seconds"] >= 0 and body["repeat"] is False
        text = rows[0]["title"] + rows[0]["body"]
        assert "张" not in text and "110105" not in text  # the card holder's name and ID number
        audit = [r for r in rig.store.audit.rows() if r["action"] == AUDIT_ACTION]
        assert len(audit) == 1 and audit[0]["detail"]["step"] == "face" and audit[0]["actor"] == "resident"

        host.send(UserEvent("help"))  # an anxious second press: audited, not a second alert
        assert len(help_rows(rig)) == 1
        assert len([r for r in rig.store.audit.rows() if r["action"] == AUDIT_ACTION]) == 2
        assert deposit.state == "face"  # calling for help does not disturb the visit
    finally:
        press(deposit, "cancel")
        host.stop()


def test_help_from_the_idle_screen_names_no_flow(rig: Rig) -> None:
    host, _ = make_host(rig)
    host.send(UserEvent("help"))
    body = json.loads(help_rows(rig)[0]["body"])
    assert body["flow"] == "" and body["screen"] == "idle" and body["visit_seconds"] == 0
    host.stop()


def test_elder_mode_doubles_the_step_time_outs(rig: Rig) -> None:
    host, deposit = make_host(rig)
    normal = dict(deposit.timeouts)
    host.set_elder(True)
    assert deposit.timeouts == {k: v * 2 for k, v in normal.items()}
    host.send(UserEvent("start"))
    view = host.publisher.view
    assert view.deadline is not None
    assert view.deadline - deposit.clock() > normal["card"] * 1.9  # this step's countdown is doubled
    press(deposit, "cancel")
    host.set_elder(False)
    assert deposit.timeouts == normal
    host.stop()


def test_a_card_left_on_the_reader_after_the_visit_is_reminded_until_taken(rig: Rig) -> None:
    host, deposit = make_host(rig)
    try:
        host.send(UserEvent("start"))
        rig.idsim.ctl_insert("zhang_san")
        wait_until(lambda: deposit.state == "identity", 10, "card read")
        host.send(UserEvent("cancel"))  # the resident stops; the message, then OK
        wait_until(lambda: host.publisher.view.screen is Screen.MESSAGE, 5, "cancelled message")
        host.send(UserEvent("ok"))
        wait_until(lambda: host.publisher.view.step == CARD_LEFT_STEP, 5, "card-left reminder")
        view = host.publisher.view
        assert view.message == "card_left.title" and view.actions == ("ok",)
        rig.idsim.ctl_remove()
        wait_until(lambda: host.publisher.view.screen is Screen.IDLE, 5, "idle once the card is taken")
        assert deposit.state == IDLE and host.active is None
        # no card on the reader at the end of the next visit: no reminder
        host.send(UserEvent("start"))
        host.send(UserEvent("cancel"))
        wait_until(lambda: host.publisher.view.screen is Screen.MESSAGE, 5, "cancelled message")
        host.send(UserEvent("ok"))
        wait_until(lambda: host.publisher.view.screen is Screen.IDLE, 5, "idle")
        wait_until(lambda: not any(t.name == "card-left" and t.is_alive() for t in threading.enumerate()), 5,
                   "the card check done")
        assert host.publisher.view.screen is Screen.IDLE
        assert CARD_LEFT_STEP not in [h.split("/")[1] for h in host.history[-3:]]
    finally:
        host.stop()


def test_visit_steps_for_the_result_pickup_and_the_ends() -> None:
    assert visit_step("results", "choose") == (PICKUP_STEPS, 0)
    assert visit_step("results", "code") == (PICKUP_STEPS, 1)
    assert visit_step("results", "door") == (PICKUP_STEPS, 2)
    assert visit_step("results", "ended", "collected") == (PICKUP_STEPS, 3)
    assert visit_step("results", "ended", "cancelled") == ((), -1)  # a cancel shows no "done"
    assert visit_step("deposit", "receipt") == (DEPOSIT_STEPS, 6)
    assert visit_step("staff", "pin") == ((), -1)


def test_the_phone_and_rating_steps_keep_the_step_bar() -> None:
    """The number is asked with the papers; 好差评 comes once the visit is done, in both flows."""
    from flows.resident_steps import PHONE, RATING, RATING_WHY

    assert visit_step("deposit", PHONE) == (DEPOSIT_STEPS, DEPOSIT_STEPS.index("papers"))
    for state in (RATING, RATING_WHY):
        assert visit_step("deposit", state) == (DEPOSIT_STEPS, len(DEPOSIT_STEPS) - 1)
        assert visit_step("results", state) == (PICKUP_STEPS, len(PICKUP_STEPS) - 1)
