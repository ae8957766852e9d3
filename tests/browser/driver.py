"""Headless Chromium from the distribution's packages, driven by Selenium through /usr/bin/chromedriver."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts"
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1000", "--lang=ja",
)


def require_chromium() -> None:
    """Skip (with the reason) where the browser or its driver is missing."""
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -e .[dev])")
    for path in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(path) is None:
            pytest.skip(f"{path} is not installed (apt-get install -y chromium chromium-driver)")


@contextmanager
def chromium(*, width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A fresh headless browser with its own profile; closed (and the profile removed) on exit."""
    require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="assist-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(width, height)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: Any, name: str) -> Path:
    """Keep a full-page screenshot under .artifacts/ (git-ignored) for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, max(height + 120, 600))
    driver.save_screenshot(str(path))
    return path


def console_errors(driver: Any) -> list[str]:
    """Severe browser console entries (uncaught exceptions, failed module loads)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
