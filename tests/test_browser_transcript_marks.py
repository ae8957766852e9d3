"""The widget's transcript marks: numbers the recognizer was unsure of get a wavy underline with 要確認, words the
vocabulary correction replaced a dotted one with what was heard — rendered by the real module in Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser.driver import chromium, console_errors, require_chromium
from browser.fake_call import demo_stages
from support.live import LiveServer

from assist.services import Services
from config import Settings

pytestmark = pytest.mark.slow  # a real browser

RENDER = """
const done = arguments[arguments.length - 1];
import("/js/transcript.js").then(({ renderText }) => {
  const el = document.createElement("div");
  document.body.append(el);
  renderText(el, "先月の5,400円のご請求です", [{start: 3, end: 9}],
             [{start: 10, end: 13, heard: "5成球"}]);
  done([...el.childNodes].map((n) => [n.nodeName, n.className ?? "", n.textContent, n.title ?? ""]));
}).catch((e) => done(String(e)));
"""


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    require_chromium()
    settings = Settings(home=tmp_path, server={"preload_models": False}, auth={"mode": "open"})
    with LiveServer(settings, Services(settings, stages=demo_stages()), status_interval_s=1.0) as srv:
        yield srv


def test_uncertain_and_corrected_spans_render_with_their_tooltips(server: LiveServer) -> None:
    with chromium() as driver:
        driver.get(f"{server.http}/")
        nodes = driver.execute_async_script(RENDER)
        assert nodes == [
            ["#text", "", "先月の", ""],
            ["SPAN", "uncertain", "5,400円", "要確認"],
            ["#text", "", "の", ""],
            ["SPAN", "corrected", "ご請求", "聞き取り: 5成球（用語辞書で補正）"],
            ["#text", "", "です", ""],
        ], nodes
        assert not console_errors(driver)
