"""Cards show the calibrated confidence as a word and a colour, never the raw score; icons are inline SVG.

Headless Chromium against the real server with the scripted demo pipeline (tests/browser/fake_call.py), whose
retrieval labels its first card high and the others medium.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from browser.driver import chromium, console_errors, require_chromium, screenshot
from browser.fake_call import demo_stages
from support.live import LiveServer
from support.wait import wait_until

from assist.services import Services
from config import Settings

pytestmark = pytest.mark.slow  # a real browser
EMOJI = re.compile("[\U0001f000-\U0001ffff\u2600-\u27bf\ufe0f]")


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    require_chromium()
    settings = Settings(home=tmp_path, server={"preload_models": False}, auth={"mode": "open"},
                        security={"max_audio_speed": 10.0})
    with LiveServer(settings, Services(settings, stages=demo_stages()), status_interval_s=1.0) as srv:
        yield srv


def test_cards_show_confidence_words_and_svg_thumbs(server: LiveServer) -> None:
    with chromium() as driver:
        driver.get(f"{server.http}/?demo_speed=4")
        driver.find_element("id", "demo-button").click()
        wait_until(lambda: driver.find_elements("css selector", '[data-article="reissue"] .confidence'), 40,
                   "the reissue card's confidence")
        lost = driver.find_element("css selector", '[data-article="lost-card"]')
        badge = lost.find_element("css selector", ".confidence")
        assert badge.text == "高" and badge.get_attribute("data-level") == "high"
        other = driver.find_element("css selector", '[data-article="reissue"] .confidence')
        assert other.text == "中" and other.get_attribute("data-level") == "medium"
        colours = {badge.value_of_css_property("background-color"), other.value_of_css_property("background-color")}
        assert len(colours) == 2, "each band has its own colour"
        cards = driver.find_element("id", "suggestions").text
        assert not re.search(r"\d\.\d{2,}", cards), "no raw score on a card"
        for thumb in (".up", ".down"):
            button = lost.find_element("css selector", thumb)
            assert button.find_elements("css selector", "svg path") and not EMOJI.search(button.text)
        assert not EMOJI.search(driver.find_element("tag name", "body").text)
        screenshot(driver, "confidence-ja")
        driver.find_element("id", "lang-toggle").click()
        assert badge.text == "High" and other.text == "Medium"
        assert not console_errors(driver)
