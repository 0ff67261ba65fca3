"""A real headless Chromium (Debian's chromium + chromium-driver) driven through Selenium.

Nothing downloads a browser: Selenium is pointed at /usr/bin/chromedriver, and Selenium Manager
is never asked for one."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    profile = tempfile.mkdtemp(prefix="backoffice-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--window-size=1400,1000", f"--user-data-dir={profile}", "--lang=zh-CN"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def log_in(driver: webdriver.Chrome, base: str, username: str, password: str) -> None:
    driver.delete_all_cookies()
    driver.get(base + "/login/")
    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(password)
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.ID, "inbox")))


def wait_for(driver: webdriver.Chrome, by: str, value: str, timeout: float = 20):  # type: ignore[no-untyped-def]
    return WebDriverWait(driver, timeout).until(ec.presence_of_element_located((by, value)))


def click_and_load(driver: webdriver.Chrome, element, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    """Click something that loads a new page, and wait until the old page is gone."""
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, timeout).until(ec.staleness_of(old))
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script("return document.readyState") == "complete")
