"""Generative backends against a real HTTP stub server: every failure falls back to extraction."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import SummarizeSettings
from summarize.base import ArticleRef, Turn
from summarize.extractive import ExtractiveSummarizer
from summarize.factory import SummarizerConfigError, build_summarizer
from summarize.generative import GenerativeSummarizer, build_messages, parse_notes
from summarize.masking import Masker
from summarize.openai_compat import OpenAIChat
from summarize.reply import ArticleText, ReplyDrafter
from summarize.transformers_local import TransformersChat

TURNS = [
    Turn(0, "agent", "お電話ありがとうございます。ミライカードの田中でございます。"),
    Turn(1, "customer", "えーと、カードをなくしてしまって、止めてほしいんですけど。"),
    Turn(2, "customer", "生年月日は1985年4月12日、電話番号は090-1234-5678です。"),
    Turn(3, "agent", "カードのご利用を停止いたしました。再発行の手続きも完了しました。"
                     "新しいカードは1週間ほどでお届けいたします。再発行手数料は1,100円でございます。"),
    Turn(4, "customer", "わかりました。警察にも届けを出しておきます。"),
]
ARTICLES = [ArticleRef("lost-card", "カードを紛失・盗難にあった場合", "カード")]


def _summarizer(url: str, model: str, timeout_s: float = 5.0) -> GenerativeSummarizer:
    return GenerativeSummarizer(OpenAIChat(url, model, api_key="test", timeout_s=timeout_s))


def test_good_json_is_used_and_checked(stub_url: str) -> None:
    notes = _summarizer(stub_url, "good").summarize(TURNS, language="ja", articles=ARTICLES)
    assert notes.backend == "openai:good"
    assert [a.text for a in notes.actions] == ["カードの利用を停止した", "再発行の手続きを完了した"]
    assert notes.follow_ups[0].text == "新しいカードを1週間ほどで届ける"
    assert notes.disposition == "カード"
    assert notes.flags == []


def test_fenced_json_is_accepted(stub_url: str) -> None:
    assert _summarizer(stub_url, "fenced").summarize(TURNS, language="ja").backend == "openai:fenced"


@pytest.mark.parametrize(("model", "why"), [
    ("invented", "failed check"), ("garbage", "invalid JSON"), ("error", "error"),
])
def test_failures_fall_back_to_extraction(stub_url: str, model: str, why: str) -> None:
    notes = _summarizer(stub_url, model).summarize(TURNS, language="ja", articles=ARTICLES)
    assert notes.backend == f"extractive (fallback: {why})"
    assert any("停止" in a.text for a in notes.actions)
    assert "2,200" not in notes.model_dump_json() and "2200" not in notes.model_dump_json()


def test_slow_reply_times_out_and_falls_back(stub_url: str) -> None:
    notes = _summarizer(stub_url, "slow", timeout_s=0.5).summarize(TURNS, language="ja")
    assert notes.backend == "extractive (fallback: timeout)"
    assert notes.status == "ok"


def test_promise_listed_as_done_is_moved(stub_url: str) -> None:
    notes = _summarizer(stub_url, "promise").summarize(TURNS, language="ja")
    assert notes.backend == "openai:promise"
    assert [a.text for a in notes.actions] == ["カードの利用を停止した"]
    assert notes.follow_ups[-1].text == "新しいカードを1週間ほどでお届けいたします"
    assert any("moved to follow_ups" in f for f in notes.flags)


def test_unreachable_endpoint_falls_back() -> None:
    notes = _summarizer("http://127.0.0.1:9/v1", "good", 1.0).summarize(TURNS, language="ja")
    assert notes.backend == "extractive (fallback: error)"


def test_prompt_carries_schema_and_masked_transcript() -> None:
    messages = build_messages(TURNS, "ja", ARTICLES)
    assert '"follow_ups"' in messages[0]["content"] and '"properties"' in messages[0]["content"]
    assert "[2] customer:" in messages[1]["content"]
    assert "090-1234-5678" not in messages[1]["content"] and "1985" not in messages[1]["content"]
    with pytest.raises(ValueError):
        parse_notes('{"actions": "not a list"}', "ja")


def test_missing_local_model_falls_back(tmp_path: Path) -> None:
    notes = GenerativeSummarizer(TransformersChat(tmp_path / "absent")).summarize(TURNS, language="ja")
    assert notes.backend == "extractive (fallback: error)"


def test_factory_picks_backend_from_settings(tmp_path: Path, stub_url: str) -> None:
    masker = Masker()
    assert isinstance(build_summarizer(SummarizeSettings(), masker), ExtractiveSummarizer)
    s = SummarizeSettings(backend="openai", openai_base_url=stub_url, openai_model="good")
    assert build_summarizer(s, masker).summarize(TURNS, language="ja").backend == "openai:good"
    with pytest.raises(SummarizerConfigError, match="openai_base_url"):
        build_summarizer(SummarizeSettings(backend="openai"), masker)


def test_reply_rewrite_is_kept_only_when_supported(stub_url: str) -> None:
    article = ArticleText("lost-card", "カードを紛失・盗難にあった場合",
                          "お電話でカードのご利用を直ちに停止し、第三者による不正利用を防ぎます。"
                          "新しいカードは再発行手数料無料で、約1週間でご登録住所へお届けします。")
    good = ReplyDrafter(OpenAIChat(stub_url, "reply-good")).draft(article, "カードをなくしました", "ja")
    assert good.backend == "openai:reply-good" and good.cited_ids == ["lost-card"]
    bad = ReplyDrafter(OpenAIChat(stub_url, "reply-invented")).draft(article, "カードをなくしました", "ja")
    assert bad.backend == "template" and "500円" not in bad.text
    slow = ReplyDrafter(OpenAIChat(stub_url, "slow", timeout_s=0.3)).draft(article, "カードをなくしました", "ja")
    assert slow.backend == "template"
