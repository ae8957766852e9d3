"""Reply rewrites in the live service, against the stub chat server process: kept when the article supports
every sentence, the template otherwise (check failed, HTTP error, timeout), and never holding up the call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.live import ARTICLES, FakeAsr, FakeRetrieval, fake_mask, silence

from assist.replay import replay_call
from assist.services import build_draft
from assist.stages import CallStages
from config import Settings
from knowledge.article import Article
from summarize.factory import SummarizerConfigError
from summarize.reply import ArticleText, draft_reply

LOST = ArticleText("lost-card", ARTICLES["lost-card"],
                   "お電話でカードのご利用を直ちに停止し、第三者による不正利用を防ぎます。"
                   "新しいカードは再発行手数料無料で、約1週間でご登録住所へお届けします。")
FEES = ArticleText("fees", ARTICLES["fees"], "紛失による再発行手数料は無料です。")
# the stub's "reply-good" answer (tests/fixtures/openai_stub.py), every sentence supported by LOST
REWRITE = "ご不便をおかけしております。お電話でカードのご利用を直ちに停止いたします。新しいカードは約1週間でお届けします。"
FIRST, SECOND = "カードをなくしました", "手数料はかかりますか"


def _article(a: ArticleText) -> Article:
    return Article(id=a.article_id, title=a.title, answer=a.answer, language=a.language)


class _KnowledgeBase(FakeRetrieval):
    def get_article(self, article_id: str) -> Article | None:
        return _article({"lost-card": LOST, "fees": FEES}[article_id])


def _settings(tmp_path: Path, url: str, model: str, timeout_s: float = 5.0) -> Settings:
    return Settings(home=tmp_path, summarize={"reply_backend": "openai", "openai_base_url": url,
                                              "openai_model": model, "reply_timeout_s": timeout_s})


async def _call(live: Any, settings: Settings, customer: list[str], call_id: str) -> list[dict[str, Any]]:
    retrieval = _KnowledgeBase({FIRST: ["lost-card"], SECOND: ["fees", "lost-card"]})
    stages = CallStages(asr=FakeAsr({"customer": customer}), retrieval=retrieval, draft=build_draft(settings),
                        mask=fake_mask)
    srv = live(stages=stages)
    return await replay_call(srv.url, call_id, {"customer": silence(0.6 * len(customer))}, realtime=False,
                             timeout_s=30)


async def test_supported_rewrite_is_sent(live, stub_url: str, tmp_path: Path) -> None:
    events = await _call(live, _settings(tmp_path, stub_url, "reply-good"), [FIRST], "rw-good")
    [draft] = [e for e in events if e["type"] == "reply_draft"]
    assert draft["backend"] == "openai:reply-good"
    assert draft["text"] == REWRITE and draft["cited_ids"] == ["lost-card"]
    assert draft["language"] == "ja" and draft["cross_lingual"] is False


@pytest.mark.parametrize(("model", "timeout_s"), [("reply-invented", 5.0), ("error", 5.0), ("slow", 0.5)])
async def test_unsupported_failed_or_late_rewrite_sends_the_template(
    live, stub_url: str, tmp_path: Path, model: str, timeout_s: float
) -> None:
    events = await _call(live, _settings(tmp_path, stub_url, model, timeout_s), [FIRST, SECOND], f"rw-{model}")
    drafts = [e for e in events if e["type"] == "reply_draft"]
    assert [(d["article_id"], d["backend"]) for d in drafts] == [("lost-card", "template"), ("fees", "template")]
    assert drafts[0]["text"] == draft_reply(LOST, FIRST, "ja").text
    assert "500円" not in drafts[0]["text"] and "3日" not in drafts[0]["text"]
    assert events[-1]["type"] == "call_ended", "no summarizer in these stages; the call ended normally"
    if model == "slow":
        # the second utterance's cards did not wait for the first draft's rewrite to time out
        [second] = [e for e in events if e["type"] == "suggestions" and e["items"][0]["article_id"] == "fees"]
        assert second["seq"] < drafts[0]["seq"]


def test_template_is_the_default_and_openai_needs_its_settings(tmp_path: Path) -> None:
    draft = build_draft(Settings(home=tmp_path))(_article(LOST), FIRST, "ja")
    assert draft.backend == "template" and draft.text == draft_reply(LOST, FIRST, "ja").text
    with pytest.raises(SummarizerConfigError, match="reply_backend=openai"):
        build_draft(Settings(home=tmp_path, summarize={"reply_backend": "openai"}))
