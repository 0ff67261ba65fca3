"""The clerk's pages in a real headless Chromium against the live back office on PostgreSQL:
what a clerk sees and clicks in the inbox and on the case page."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from backoffice_support import PASSWORD, RESIDENT_ID, RESIDENT_NAME, Town, deliver, make_pdf, package
from browser_support import chromium, click_and_load, log_in, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from backoffice.cases.models import Case, IdentityReveal

DAY = 86400.0


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with chromium() as driver:
        yield driver


@pytest.fixture
def cases(live_town: Town, client) -> Town:  # type: ignore[no-untyped-def]
    """Three cases: an overdue one at the centre, a fresh one in a village, one at the centre in processing."""
    id_copy, form = make_pdf(2, "ID"), make_pdf(1, "FORM")
    files = {"id_copy-1": id_copy, "form-1": form}
    deliver(client, live_town.token, package("AAAA2222", files=files, committed_at=time.time() - 30 * DAY), files)
    deliver(client, live_town.village_token,
            package("BBBB3333", "qidu-kaixiangong", files={}, service=("residence", "居住证", "Residence permit", 10)))
    deliver(client, live_town.token,
            package("CCCC4444", files={}, service=("residence", "居住证", "Residence permit", 10),
                    committed_at=time.time() - 3 * DAY))
    from backoffice.cases import actions

    c = Case.objects.get(case_code="CCCC4444")
    clerk = live_town.users["clerk"]
    actions.take_step(actions.take_step(c, clerk, "collect"), clerk, "process")
    return live_town


def _rows(browser) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.get_attribute("data-case") for r in browser.find_elements(By.CSS_SELECTOR, "tr.case-row")]


def _filter(browser, **choices: str) -> None:  # type: ignore[no-untyped-def]
    for name, value in choices.items():
        if name == "overdue":
            box = browser.find_element(By.ID, "f-overdue")
            if box.is_selected() != bool(value):
                box.click()
        else:
            Select(browser.find_element(By.ID, f"f-{name}")).select_by_value(value)
    click_and_load(browser, browser.find_element(By.ID, "f-apply"))


def test_inbox_sorted_by_due_date_filters_and_overdue_stands_out(browser, live_server, cases: Town) -> None:
    log_in(browser, live_server.url, "clerk", PASSWORD)
    assert browser.find_element(By.TAG_NAME, "h1").text == "待办"
    assert _rows(browser) == ["AAAA2222", "CCCC4444", "BBBB3333"]
    overdue = browser.find_element(By.CSS_SELECTOR, "tr[data-case=AAAA2222]")
    assert "overdue" in overdue.get_attribute("class") and "超期" in overdue.text
    assert overdue.find_element(By.TAG_NAME, "td").value_of_css_property("background-color") != \
        browser.find_element(By.CSS_SELECTOR, "tr[data-case=BBBB3333] td").value_of_css_property("background-color")
    assert RESIDENT_NAME not in browser.page_source and "欧***" in overdue.text
    _filter(browser, village="开弦弓村")
    assert _rows(browser) == ["BBBB3333"]
    _filter(browser, village="", kiosk="qidu-centre")
    assert _rows(browser) == ["AAAA2222", "CCCC4444"]
    _filter(browser, kiosk="", service="residence")
    assert _rows(browser) == ["CCCC4444", "BBBB3333"]
    _filter(browser, service="", state="processing")
    assert _rows(browser) == ["CCCC4444"]
    _filter(browser, state="", overdue="1")
    assert _rows(browser) == ["AAAA2222"]
    # Kiosk staff see only the kiosks they serve (the village one).
    log_in(browser, live_server.url, "staff", PASSWORD)
    assert _rows(browser) == ["BBBB3333"]
    # English on request.
    click_and_load(browser, browser.find_element(By.ID, "lang-switch"))
    assert wait_for(browser, By.TAG_NAME, "h1").text == "Inbox"
    click_and_load(browser, browser.find_element(By.ID, "lang-switch"))
    assert wait_for(browser, By.TAG_NAME, "h1").text == "待办"


def _image_width(browser) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    img = wait_for(browser, By.ID, "scan-image")
    for _ in range(100):
        natural = browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img)
        if natural:
            return int(natural), int(img.size["width"])
        time.sleep(0.1)
    raise AssertionError("the scan image did not load")


def test_case_page_scans_page_by_page_and_zoom(browser, live_server, cases: Town) -> None:
    log_in(browser, live_server.url, "clerk", PASSWORD)
    click_and_load(browser, browser.find_element(By.LINK_TEXT, "AAAA2222"))
    assert wait_for(browser, By.ID, "scan-position").text == "第 1 / 3 页"
    assert _image_width(browser) == (700, 700)
    click_and_load(browser, browser.find_element(By.ID, "scan-next"))
    assert wait_for(browser, By.ID, "scan-position").text == "第 2 / 3 页"
    src2 = browser.find_element(By.ID, "scan-image").get_attribute("src")
    click_and_load(browser, browser.find_element(By.ID, "scan-next"))
    assert wait_for(browser, By.ID, "scan-position").text == "第 3 / 3 页"
    assert browser.find_element(By.ID, "scan-image").get_attribute("src") != src2
    assert not browser.find_elements(By.ID, "scan-next")
    click_and_load(browser, browser.find_element(By.ID, "zoom-in"))
    assert wait_for(browser, By.ID, "zoom-level").text == "2×"
    assert _image_width(browser) == (1400, 1400)
    assert browser.find_element(By.ID, "scan-position").text == "第 3 / 3 页"
    click_and_load(browser, browser.find_element(By.ID, "scan-prev"))
    assert wait_for(browser, By.ID, "scan-position").text == "第 2 / 3 页"
    assert browser.find_element(By.ID, "zoom-level").text == "2×"
    # The rest of the case page: papers with the deferred one, checks, compartment, overdue.
    assert "容缺" in browser.find_element(By.CSS_SELECTOR, "tr[data-paper=hukou]").text
    assert "与证件照一致" in browser.find_element(By.ID, "checks").text
    assert browser.find_element(By.ID, "compartment").text == "A03"
    assert browser.find_element(By.ID, "overdue").is_displayed()


def test_identity_shown_only_with_a_reason_and_audited(browser, live_server, cases: Town) -> None:
    log_in(browser, live_server.url, "clerk", PASSWORD)
    browser.get(live_server.url + "/cases/AAAA2222/")
    assert wait_for(browser, By.ID, "id-name").text == "欧***"
    assert RESIDENT_ID not in browser.page_source
    # No reason: the browser will not send the form (and the server would refuse it).
    assert browser.execute_script("return document.getElementById('reveal-reason').validity.valueMissing")
    browser.find_element(By.ID, "reveal").click()
    assert wait_for(browser, By.ID, "id-name").text == "欧***"
    assert IdentityReveal.objects.count() == 0
    browser.find_element(By.ID, "reveal-reason").send_keys("电话核实申请人身份")
    click_and_load(browser, browser.find_element(By.ID, "reveal"))
    assert wait_for(browser, By.ID, "identity-revealed")
    assert browser.find_element(By.ID, "id-name").text == RESIDENT_NAME
    assert browser.find_element(By.ID, "id-number").text == RESIDENT_ID
    assert "clerk · 电话核实申请人身份" in browser.find_element(By.ID, "reveals").text
    reveal = IdentityReveal.objects.get()
    assert (reveal.user.username, reveal.reason) == ("clerk", "电话核实申请人身份")
    browser.get(live_server.url + "/cases/AAAA2222/")  # shown once: masked again afterwards
    assert wait_for(browser, By.ID, "id-name").text == "欧***"


def _step(browser, name: str, *, reason: str = "", channel: str = "") -> None:  # type: ignore[no-untyped-def]
    if reason:
        browser.find_element(By.ID, f"reason-{name}").send_keys(reason)
    if channel:
        Select(browser.find_element(By.ID, f"channel-{name}")).select_by_value(channel)
    click_and_load(browser, browser.find_element(By.ID, f"step-{name}"))


def test_workflow_steps_recorded_in_history(browser, live_server, cases: Town) -> None:
    log_in(browser, live_server.url, "staff", PASSWORD)
    browser.get(live_server.url + "/cases/BBBB3333/")
    assert [f.get_attribute("data-step") for f in browser.find_elements(By.CSS_SELECTOR, ".step-form")] == \
        ["collect"]
    _step(browser, "collect")
    assert browser.find_element(By.ID, "case-state").text == "原件已收取"
    assert "staff" in browser.find_element(By.ID, "collected").text
    log_in(browser, live_server.url, "clerk", PASSWORD)
    browser.get(live_server.url + "/cases/BBBB3333/")
    _step(browser, "process")
    _step(browser, "more_papers", reason="请补交户口簿原件")
    assert browser.find_element(By.ID, "case-state").text == "需补件"
    assert browser.find_element(By.ID, "decision-reason").text == "请补交户口簿原件"
    _step(browser, "papers_in")
    _step(browser, "reject", reason="不符合办理条件：户籍不在本镇")
    _step(browser, "return", channel="counter")
    assert browser.find_element(By.ID, "result-channel").text == "窗口领取"
    _step(browser, "close")
    assert browser.find_element(By.ID, "case-state").text == "已办结"
    assert not browser.find_elements(By.CSS_SELECTOR, ".step-form")
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.history-row")
    assert [r.get_attribute("data-action") for r in rows] == \
        ["received", "collect", "process", "more_papers", "papers_in", "reject", "return", "close"]
    assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows[1:]] == ["staff"] + ["clerk"] * 6
    assert "户籍不在本镇" in rows[5].text
    case = Case.objects.get(case_code="BBBB3333")
    assert case.history.count() == 8 and case.state == "closed"
