"""The web client in a real browser (Debian's headless Chromium driven by Selenium) against the
whole simulated stack: what a person does on the phone, checked at the charger.

Chromium and its driver come from Debian (`./dev` installs ``chromium`` and ``chromium-driver``);
Selenium is pointed at /usr/bin/chromedriver so it never looks for, or downloads, a driver of its own.
The dashboard's screenshot is kept in ``test-artifacts/dashboard.png``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common import utils
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import REPO
from tests.web.client import WebClient
from tests.web.conftest import WebStack, wait_until

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--ignore-certificate-errors",  # the charger's own self-signed certificate
    "--window-size=412,915",  # a phone
)  # fmt: skip


class LoopbackService(Service):
    """chromedriver reached by address: selenium asks for ``localhost``, which a minimal
    Debian root (no /etc/hosts entry) cannot resolve."""

    @property
    def service_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def is_connectable(self) -> bool:
        return utils.is_connectable(self.port, host="127.0.0.1")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """Chromium started here with its DevTools on 127.0.0.1, and chromedriver attached to
    that address: chromedriver would otherwise start the browser itself and reach it at
    ``localhost``, a name a minimal Debian root cannot resolve."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        assert path.is_file(), f"{path} is missing: apt-get install {package} (./dev installs it)"
    port = utils.free_port()
    chromium = subprocess.Popen(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}",
         "--remote-debugging-address=127.0.0.1", f"--remote-debugging-port={port}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: utils.is_connectable(port, host="127.0.0.1"), "Chromium's DevTools port")
        options = webdriver.ChromeOptions()
        options.debugger_address = f"127.0.0.1:{port}"
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=LoopbackService(str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()
    finally:
        chromium.terminate()
        chromium.wait(10)


def wait_for(
    driver: WebDriver, what: str, find: Callable[[WebDriver], WebElement | bool], timeout: float = 20.0
) -> None:
    """Wait until ``find`` returns something truthy (a missing element counts as not yet)."""
    WebDriverWait(driver, timeout, ignored_exceptions=(Exception,)).until(find, f"timed out waiting for {what}")


def text_of(driver: WebDriver, selector: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, selector).text


def offered_current(stack: WebStack) -> float | None:
    return stack.sim.status()["offered_current_a"]  # type: ignore[no-any-return]


def log_in(browser: WebDriver, stack: WebStack, page: str = "") -> None:
    """Open ``page`` (a hash route): the login form comes first, then the page itself."""
    browser.get(f"{stack.url.rstrip('/')}/#/{page}")
    wait_for(browser, "the login form", lambda d: d.find_element(By.NAME, "pin"))
    browser.find_element(By.NAME, "pin").send_keys(stack.pin)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()


def save_section(control: WebElement) -> WebElement:
    """Press Save in ``control``'s settings section; that section's form."""
    form = control.find_element(By.XPATH, "./ancestor::form")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    return form


def script_errors(driver: WebDriver) -> list[str]:
    """What the page's own scripts threw (network 401s before the login are expected, not errors)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry.get("source") == "javascript"]


def test_login_see_charging_and_set_the_maximum_current(stack: WebStack, browser: WebDriver) -> None:
    log_in(browser, stack)
    wait_for(browser, "the dashboard", lambda d: text_of(d, "#status") not in ("", "…"))
    assert stack.pin not in browser.page_source  # the PIN is never rendered back

    stack.sim.ctl("sim", "plug")
    stack.sim.ctl("sim", "ev-state", "C")
    # live over /api/v1/events: the page is not reloaded
    wait_for(browser, "Charging on the dashboard", lambda d: text_of(d, "#status") == "Charging")
    wait_for(browser, "the session on the dashboard", lambda d: text_of(d, "#s-tag") == "FREE")
    wait_for(browser, "the car's power on the dashboard", lambda d: text_of(d, "#v-power").endswith(" kW"))
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))

    browser.get(f"{stack.url.rstrip('/')}/#/settings")
    wait_for(browser, "the settings", lambda d: d.find_element(By.NAME, "user_max_a").get_attribute("value") != "")
    amps = browser.find_element(By.NAME, "user_max_a")
    amps.clear()
    amps.send_keys("16")
    form = save_section(amps)
    wait_for(browser, "the save", lambda d: form.find_element(By.CSS_SELECTOR, "[role=status]").text == "Saved.")
    wait_until(lambda: offered_current(stack) == 16.0, "the charger's offered current to follow the setting")

    browser.get(f"{stack.url.rstrip('/')}/#/")
    wait_for(browser, "16 A offered on the dashboard", lambda d: text_of(d, "#v-offered") == "16.0 A")
    assert script_errors(browser) == []


def test_a_value_the_service_refuses_is_shown_at_its_field_and_nothing_is_applied(
    stack: WebStack, api: WebClient, browser: WebDriver
) -> None:
    """The service's 400 names the field and the rule; the page puts the rule under that control,
    and the other field changed in the same save is not applied either."""
    before = api.get("/settings/charger").json()
    log_in(browser, stack, "settings")
    wait_for(browser, "the settings", lambda d: d.find_element(By.NAME, "user_max_a").get_attribute("value") != "")
    name = browser.find_element(By.NAME, "station_name")
    name.clear()
    name.send_keys(before["station_name"] + " 2")
    amps = browser.find_element(By.NAME, "user_max_a")
    amps.clear()
    amps.send_keys("40")
    form = save_section(amps)
    wait_for(browser, "the rule under the field", lambda d: text_of(d, "[data-error-for=user_max_a]") != "")
    assert "32" in text_of(browser, "[data-error-for=user_max_a]")  # the rule names the range
    assert amps.get_attribute("aria-invalid") == "true"
    assert form.find_element(By.CSS_SELECTOR, "[data-error-for=station_name]").text == ""
    assert api.get("/settings/charger").json() == before
    assert script_errors(browser) == []
