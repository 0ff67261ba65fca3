"""Text messages to the resident, end to end through a local SMS gateway simulator: 受理 on delivery,
需补件 with what is missing, 办结, result ready with compartment, kiosk and pickup code, a reminder
after N days unfetched; a gateway that is down keeps them waiting and the pages say which; no log
line ever holds the whole number or the pickup code."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import urllib.error
import urllib.request

import pytest
from backoffice_support import RESIDENT_PHONE, Town, deliver, kiosk_headers, package
from django.test import override_settings

import contract
from backoffice.cases import actions
from backoffice.cases.models import Case, State
from backoffice.notifications import actions as sms
from backoffice.notifications.models import SmsMessage, SmsTemplate
from backoffice.notifications.sim_gateway import sms_gateway
from backoffice.track import results
from backoffice.track.models import StaffTask

PICKUP = "284615"


def _event(client, town: Town, kind: str, n: int, compartment: str = "B02") -> None:  # type: ignore[no-untyped-def]
    ev = contract.KioskEvent(f"ev-{kind}-{n}", "C3MRU76E", kind, time.time(), "staff:04A1…C3", compartment)
    r = client.post("/api/v1/events", contract.dumps(contract.EventBatch("qidu-centre", time.time(), (ev,))),
                    content_type="application/json", **kiosk_headers(town.token))
    assert r.status_code == 200 and not r.json()["refused"], r.content


def _texts(sim) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {m["id"]: m["text"] for m in sim.received}


@pytest.mark.django_db
def test_messages_follow_the_case_and_wait_while_the_gateway_is_down(client, town: Town, caplog, tmp_path) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO)
    clerk = town.users["clerk"]
    phone = tmp_path / "sms-phone.log"
    with sms_gateway(phone_log=phone) as sim, \
            override_settings(SMS={"gateway": sim.url, "retry_min_s": 30, "retry_max_s": 600}):
        deliver(client, town.token, package(pickup_code=PICKUP))
        case = Case.objects.get(case_code="C3MRU76E")

        # The gateway is down: the 受理 message waits, with the reason, and is tried again later.
        sim.down = True
        assert sms.send_due() == (0, 1)
        waiting = SmsMessage.objects.get(case=case, kind="received")
        assert waiting.sent_at is None and "503" in waiting.last_error and waiting.next_try_at > dt.datetime.now(dt.UTC)
        assert sms.send_due() == (0, 0)  # backing off: not hammered
        client.force_login(clerk)
        page = client.get("/results/C3MRU76E/").content.decode()
        assert "未发出 not sent" in page and "139****5678" in page and RESIDENT_PHONE not in page

        sim.down = False
        sms.make_all_due()
        assert sms.send_due() == (1, 0)
        assert sim.received[0]["to"] == RESIDENT_PHONE
        assert "C3MRU76E" in sim.received[0]["text"] and "已受理" in sim.received[0]["text"]

        # An admin's edited template is what goes out.
        SmsTemplate.objects.create(kind="more_papers", text="请补交：{reason}（{case_code}）")
        for step in ("collect", "process"):
            case = actions.take_step(case, clerk, step)
        case = actions.take_step(case, clerk, "more_papers", reason="户口簿首页")
        case = actions.take_step(case, clerk, "papers_in")
        case = actions.take_step(case, clerk, "approve")
        assert sms.send_due() == (2, 0)
        texts = [m["text"] for m in sim.received]
        assert "请补交：户口簿首页（C3MRU76E）" in texts
        assert any("已办结" in t and "审批通过" in t for t in texts)

        # The clerk sends the result to the kiosk; the kiosk places it: the pickup message.
        results.send_to_locker(case, clerk, town.kiosk)
        _event(client, town, "result_placed", 1)
        assert sms.send_due() == (1, 0)
        ready = sim.received[-1]["text"]
        assert "B02" in ready and "七都中心" in ready and PICKUP in ready
        # make run's simulated phone: the tester reads the whole text with the code, the number masked
        last = phone.read_text(encoding="utf-8").splitlines()[-1]
        assert "  139****5678  " in last and last.endswith(" / ".join(ready.splitlines()))
        assert RESIDENT_PHONE not in phone.read_text(encoding="utf-8")

        # Not fetched after 7 days: one staff task and one reminder, however often the check runs.
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
        assert results.check_unfetched(later) == 1 and results.check_unfetched(later) == 0
        assert StaffTask.objects.filter(case=case, kind="result_unfetched", done_at=None).count() == 1
        assert sms.send_due() == (1, 0) and "8天" in sim.received[-1]["text"]
        assert "result_unfetched" in client.get("/results/tasks/").content.decode()

        # Collected at the kiosk: the case closes and the task is done.
        _event(client, town, "result_collected", 2)
        case.refresh_from_db()
        assert case.state == State.CLOSED
        assert not StaffTask.objects.filter(case=case, done_at=None).exists()

    logged = caplog.text
    assert "139****5678" in logged
    assert RESIDENT_PHONE not in logged and PICKUP not in logged


@pytest.mark.django_db
def test_no_number_no_message_and_a_wrong_number_is_refused(client, town: Town) -> None:  # type: ignore[no-untyped-def]
    deliver(client, town.token, package(phone=None))
    assert not SmsMessage.objects.exists()
    r = client.put("/api/v1/cases/C3MRU76F", contract.dumps(package("C3MRU76F", phone="12345678901")),
                   content_type="application/json", **kiosk_headers(town.token))
    assert r.status_code == 400 and "case.phone" in r.json()["error"]["message"]


@pytest.mark.django_db
def test_a_result_goes_only_to_the_kiosk_that_took_the_case(client, town: Town) -> None:  # type: ignore[no-untyped-def]
    deliver(client, town.token, package())
    clerk = town.users["clerk"]
    case = Case.objects.get(case_code="C3MRU76E")
    for step in ("collect", "process", "approve"):
        case = actions.take_step(case, clerk, step)
    with pytest.raises(results.ReturnError, match="七都中心"):
        results.send_to_locker(case, clerk, town.village_kiosk)
    client.force_login(clerk)
    r = client.post("/results/C3MRU76E/return", {"how": "mail", "address": "", "tracking": ""}, follow=True)
    assert "邮寄地址" in r.content.decode()
    client.post("/results/C3MRU76E/return", {"how": "mail", "address": "苏州市吴江区七都镇人民路1号",
                                              "tracking": "SF1234567890"})
    case.refresh_from_db()
    assert case.state == State.RETURNED and case.result_channel == "mail"
    assert case.result_return.mail_address() == "苏州市吴江区七都镇人民路1号"
    assert case.result_return.tracking_number == "SF1234567890"


def test_the_simulated_gateway_refuses_a_malformed_message_and_says_why(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A sender bug shows as a 400 naming the field, and the simulated phone shows no half message."""
    phone = tmp_path / "sms-phone.log"
    with sms_gateway(phone_log=phone) as sim:
        req = urllib.request.Request(sim.url, data=json.dumps({"to": RESIDENT_PHONE, "id": "sms-9"}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == 400 and "text" in json.loads(err.value.read())["error"]
        assert sim.received == [] and not phone.exists()
