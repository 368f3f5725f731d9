"""Once, for real: `streamlit run app.py` with the bundled model, driven by headless Chromium.

Needs Debian's `chromium` and `chromium-driver` (`make browser`); nothing downloads a browser or
a driver: the paths are given and Selenium Manager is kept offline. The screenshot of the
answered question is left in artifacts/ (gitignored).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.samples import REPO, SEED

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = REPO / "artifacts"
QUESTION = "في أي عام تأسس التحالف الرباعي؟"
FOUNDED = "سبتمبر/أيلول 2015"
# First start loads the model and embeds the seed article: about a minute on two slow cores.
STARTUP_S = 300
ANSWER_S = 120
MESSAGE = '[data-testid="stChatMessage"]'
CITATION_TOGGLE = f'{MESSAGE} [data-testid="stExpander"] summary'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path):
    """The chat on a free local port, over a copy of the seed article; always stopped.

    It runs in a project folder of its own, as a reader would run it: seeds/ beside embeddings/.
    """
    (tmp_path / "seeds").mkdir()
    shutil.copy(SEED, tmp_path / "seeds" / SEED.name)
    port = free_port()
    env = {**os.environ, "QA_SEEDS": "seeds", "QA_INDEX": "embeddings"}
    env.pop("QA_MODEL", None)
    log_file = tmp_path / "streamlit.log"
    log = log_file.open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO / "app.py"),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
            "--client.toolbarMode",
            "minimal",
        ],  # as .streamlit/config.toml has it in the project
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{log_file.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("streamlit did not answer its health check within 60 s")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        log.close()


@pytest.fixture
def browser(tmp_path: Path, monkeypatch):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("needs Debian's chromium and chromium-driver: run `make browser`")
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never fetch anything
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-quic",
        "--disable-dev-shm-usage",
        "--window-size=1200,1800",
        "--lang=en-US",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def test_arabic_question_is_answered_right_to_left_in_a_real_browser(server, browser):
    from selenium.common.exceptions import (
        ElementClickInterceptedException,
        StaleElementReferenceException,
    )
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    # Streamlit redraws while a script runs: find elements afresh, retry what a redraw interrupts.
    def wait(seconds: float) -> WebDriverWait:
        flaky = (StaleElementReferenceException, ElementClickInterceptedException)
        return WebDriverWait(browser, seconds, ignored_exceptions=flaky)

    def text(selector: str) -> str:
        return browser.find_element(By.CSS_SELECTOR, selector).text

    browser.get(server)
    box = wait(STARTUP_S).until(
        EC.element_to_be_clickable((By.CSS_SELECTOR, '[data-testid="stChatInput"] textarea'))
    )
    box.send_keys(QUESTION)
    box.send_keys(Keys.ENTER)
    wait(ANSWER_S).until(lambda _: FOUNDED in text(f"{MESSAGE} .qa-answer"))
    assert f"{SEED.name} · ¶5" in text(f"{MESSAGE} .qa-card")

    # Open the first citation: its paragraph, the answering sentence marked, reads right to left.
    def open_first_citation(_) -> bool:
        summary = browser.find_element(By.CSS_SELECTOR, CITATION_TOGGLE)
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", summary)
        summary.click()
        return True

    wait(30).until(open_first_citation)
    wait(30).until(EC.visibility_of_element_located((By.CSS_SELECTOR, f"{MESSAGE} .qa-cited")))
    assert FOUNDED in text(f"{MESSAGE} .qa-cited mark")
    for selector in (f"{MESSAGE} .qa-answer", f"{MESSAGE} .qa-cited"):
        direction, matches_rtl = browser.execute_script(
            "const e = document.querySelector(arguments[0]);"
            "return [getComputedStyle(e).direction, e.matches(':dir(rtl)')];",
            selector,
        )
        assert (direction, matches_rtl) == ("rtl", True), selector

    ARTIFACTS.mkdir(exist_ok=True)
    time.sleep(0.5)  # let the expander's animation settle before the picture
    assert browser.save_screenshot(str(ARTIFACTS / "chat-arabic.png"))
