"""The fleet dashboard in a real headless Chromium: one row per kiosk a supervisor reads at a
glance, updated by real heartbeats, and a kiosk page with its outages, doors and alerts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from backoffice_support import PASSWORD, Town, kiosk_headers
from browser_support import chromium, click_and_load, log_in, wait_for
from fleet_support import fleet_kiosk
from selenium.webdriver.common.by import By

import contract
from backoffice.fleet.models import KioskState
from devices.status import DeviceStatus


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with chromium() as driver:
        yield driver


def _row(browser, kiosk_id: str):  # type: ignore[no-untyped-def]
    return browser.find_element(By.CSS_SELECTOR, f"tr.kiosk-row[data-kiosk='{kiosk_id}']")


def test_dashboard_shows_each_kiosk_worst_first_and_its_history(browser, live_server, live_town: Town, client,
                                                               tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with fleet_kiosk(tmp_path / "k", live_server.url, "qidu-centre", live_town.token) as k:
        k.beat()
        log_in(browser, live_server.url, "super", PASSWORD)
        browser.get(live_server.url + "/fleet/")
        wait_for(browser, By.ID, "fleet")
        page = browser.find_element(By.TAG_NAME, "body").text
        assert "故障设备" in page and "版本" in page and "Devices down" not in page  # Chinese first
        centre = _row(browser, "qidu-centre")
        assert centre.find_element(By.CSS_SELECTOR, "td.state").get_attribute("data-state") == "up"
        assert centre.find_element(By.CSS_SELECTOR, "td.compartments .free").text == "4"
        assert _row(browser, "qidu-kaixiangong").find_element(By.CSS_SELECTOR, "td.state").get_attribute(
            "data-state") == "offline"  # enrolled but never sent a heartbeat
        assert not browser.find_elements(By.CSS_SELECTOR, "tr[data-kiosk='shengze-centre']")  # another town

        # The printer is unplugged and a door jams: both on the dashboard after the next heartbeat.
        k.set_device("printer", DeviceStatus.OFFLINE, "USB link lost")
        k.set_compartment("A03", "out_of_order")
        ev = contract.KioskEvent("jam-1", None, "door_jammed", 1.7e9, "kiosk", "A03")
        r = client.post("/api/v1/events", contract.dumps(contract.EventBatch("qidu-centre", 1.0, (ev,))),
                        content_type="application/json", **kiosk_headers(live_town.token))
        assert r.status_code == 200
        k.beat()
        browser.get(live_server.url + "/fleet/")
        centre = _row(browser, "qidu-centre")
        assert centre.find_element(By.CSS_SELECTOR, ".device-down").get_attribute("data-device") == "printer"
        assert "1" in centre.find_element(By.CSS_SELECTOR, "td.compartments").text
        assert [b.get_attribute("data-alert") for b in centre.find_elements(By.CSS_SELECTOR, "td.alerts .badge")] \
            == ["door_jammed"]

        click_and_load(browser, centre.find_element(By.LINK_TEXT, "七都中心"))
        outage = wait_for(browser, By.CSS_SELECTOR, "#outages tr[data-device='printer']")
        assert "USB link lost" in outage.text and "open" in outage.get_attribute("class")
        assert browser.find_element(By.CSS_SELECTOR, "#doors tr[data-kind='door_jammed']").text.endswith("A03")

        # Silent for three intervals: offline, and the supervisor sees it at once (the worst row first).
        KioskState.objects.filter(kiosk__kiosk_id="qidu-centre").update(
            last_heartbeat_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=95))
        browser.get(live_server.url + "/fleet/")
        first = browser.find_elements(By.CSS_SELECTOR, "tr.kiosk-row")[0]
        assert first.get_attribute("data-kiosk") == "qidu-centre"
        assert first.find_element(By.CSS_SELECTOR, "td.state").get_attribute("data-state") == "offline"
