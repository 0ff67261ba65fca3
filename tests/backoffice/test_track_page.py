"""The public progress page a resident's phone opens from the receipt's QR code: the timeline in
plain words, nothing personal until the pickup code or the ID number's last 4 are given (then
only masked), tries limited per case and per address and recorded, an unknown code a plain "not
found"; and in a real headless Chromium at a phone's size with large text, it fits and works."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator

import pytest
from backoffice_support import RESIDENT_ID, RESIDENT_NAME, RESIDENT_PHONE, Town, deliver, package
from browser_support import CHROMEDRIVER, CHROMIUM, click_and_load, wait_for
from django.test import override_settings
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from backoffice.cases import actions
from backoffice.cases.models import Case
from backoffice.track.models import TrackAttempt

PICKUP = "284615"


def _decided(client, town: Town, reason: str = "户口簿首页") -> Case:  # type: ignore[no-untyped-def]
    deliver(client, town.token, package(pickup_code=PICKUP))
    case = Case.objects.get(case_code="C3MRU76E")
    for step in ("collect", "process"):
        case = actions.take_step(case, town.users["clerk"], step)
    return actions.take_step(case, town.users["clerk"], "more_papers", reason=reason)


@pytest.mark.django_db
def test_unknown_codes_get_one_plain_answer(client, town: Town) -> None:  # type: ignore[no-untyped-def]
    deliver(client, town.token, package())
    a, b = client.get("/track/ZZZZZZZZ"), client.get("/track/not-a-code")
    assert a.status_code == b.status_code == 404
    assert a.content == b.content and b"Not found" in a.content and b"ZZZZZZZZ" not in a.content
    assert TrackAttempt.objects.filter(outcome="not_found").count() == 2


@pytest.mark.django_db
def test_timeline_without_personal_data_until_proved(client, town: Town) -> None:  # type: ignore[no-untyped-def]
    _decided(client, town)
    page = client.get("/track/C3MRU76E").content.decode()
    for words in ("已受理", "工作人员已取走原件", "正在办理", "需要补充材料", "More papers needed"):
        assert words in page
    for secret in (RESIDENT_NAME, RESIDENT_ID, RESIDENT_ID[-4:], RESIDENT_PHONE, "欧***", "户口簿首页", PICKUP):
        assert secret not in page

    page = client.post("/track/C3MRU76E", {"answer": RESIDENT_ID[-4:]}).content.decode()
    assert "户口簿首页" in page  # the clerk's reason, now that the visitor proved it is theirs
    assert "欧***" in page and "3205**********1234" in page and "139****5678" in page
    assert RESIDENT_NAME not in page and RESIDENT_ID not in page and RESIDENT_PHONE not in page
    assert TrackAttempt.objects.get(outcome="ok").method == "id4"


@pytest.mark.django_db
def test_the_pickup_code_proves_it_too(client, town: Town) -> None:  # type: ignore[no-untyped-def]
    _decided(client, town)
    page = client.post("/track/C3MRU76E", {"answer": PICKUP}).content.decode()
    assert "欧***" in page and PICKUP not in page


@pytest.mark.django_db
@override_settings(TRACK={"per_case": 3, "per_address": 5, "window_minutes": 60, "verified_minutes": 15})
def test_tries_are_limited_per_case_and_per_address(client, town: Town) -> None:  # type: ignore[no-untyped-def]
    _decided(client, town)
    for i in range(3):  # three wrong answers from three addresses
        r = client.post("/track/C3MRU76E", {"answer": f"000{i}"}, REMOTE_ADDR=f"10.0.0.{i}")
        assert r.status_code == 200 and "did not match" in r.content.decode()
    r = client.post("/track/C3MRU76E", {"answer": RESIDENT_ID[-4:]}, REMOTE_ADDR="10.0.0.9")
    assert r.status_code == 429 and "欧***" not in r.content.decode()  # even the right answer, once limited

    deliver(client, town.token, package("C3MRU76F"))
    for i in range(5):  # one address guessing unknown codes is limited on a real case too
        client.get(f"/track/ZZZZZZZ{i + 2}", REMOTE_ADDR="10.1.1.1")
    r = client.post("/track/C3MRU76F", {"answer": RESIDENT_ID[-4:]}, REMOTE_ADDR="10.1.1.1")
    assert r.status_code == 429
    assert TrackAttempt.objects.filter(outcome="limited").count() == 2
    assert not TrackAttempt.objects.filter(addr_hash__contains="10.").exists()  # addresses kept only hashed


@pytest.fixture(scope="module")
def phone() -> Iterator:
    """A cheap phone: 360×740 CSS pixels, and its owner chose the largest text (32 px instead of 16)."""
    profile = tempfile.mkdtemp(prefix="track-phone-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", "--lang=zh-CN"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"webkit.webprefs.default_font_size": 32,
                                           "webkit.webprefs.default_fixed_font_size": 32})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 360, "height": 740, "deviceScaleFactor": 2, "mobile": True})
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_on_a_phone_with_large_text(phone, live_server, live_town: Town, client) -> None:  # type: ignore[no-untyped-def]
    _decided(client, live_town)
    raw = client.get("/track/C3MRU76E")
    assert len(raw.content) < 16 * 1024  # one small response: no script, no image, no web font
    assert b"<script" not in raw.content and b"<img" not in raw.content
    phone.delete_all_cookies()
    phone.get(live_server.url + "/track/C3MRU76E")
    wait_for(phone, By.ID, "track")
    assert phone.find_element(By.CSS_SELECTOR, "#stages li.now").get_attribute("data-stage") == "2"
    assert phone.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)") >= 32
    width = phone.execute_script("return document.documentElement.clientWidth")
    assert width <= 400
    assert phone.execute_script("return document.documentElement.scrollWidth") <= width  # no sideways scroll
    box = phone.find_element(By.ID, "answer")
    assert box.size["height"] >= 44 and box.size["width"] <= width
    box.send_keys("9999")
    click_and_load(phone, phone.find_element(By.ID, "go"))
    assert phone.find_element(By.ID, "wrong").is_displayed()
    phone.find_element(By.ID, "answer").send_keys(RESIDENT_ID[-4:])
    click_and_load(phone, phone.find_element(By.ID, "go"))
    assert phone.find_element(By.ID, "masked-name").text == "欧***"
    assert "户口簿首页" in phone.find_element(By.ID, "more-papers").text
    assert phone.execute_script("return document.documentElement.scrollWidth") <= width
