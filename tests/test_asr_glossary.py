"""Glossary prompt: deduplicated, bounded by a token budget, per language."""

from __future__ import annotations

from asr.glossary import approx_tokens, build_prompt, build_prompts


def test_prompt_dedupes_and_closes_like_a_sentence() -> None:
    assert build_prompt(["紛失", " 紛失 ", "再発行", ""]) == "紛失、再発行。"
    assert build_prompt([]) is None


def test_prompt_respects_budget_keeping_first_terms() -> None:
    terms = [f"用語{i}" for i in range(500)]
    prompt = build_prompt(terms, budget=50)
    assert prompt is not None and prompt.startswith("用語0、用語1、")
    assert approx_tokens(prompt) <= 50 and "用語499" not in prompt


def test_english_prompt_takes_latin_terms_only() -> None:
    prompts = build_prompts(["紛失", "SIM card", "refund", "料金プラン"])
    assert prompts["ja"] == "紛失、SIM card、refund、料金プラン。"
    assert prompts["en"] == "SIM card, refund."
