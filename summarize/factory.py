"""Builds the configured summarizer from the ``summarize`` settings section."""

from __future__ import annotations

from config import SummarizeSettings
from summarize.base import Summarizer
from summarize.extractive import ExtractiveSummarizer
from summarize.generative import ChatBackend, GenerativeSummarizer
from summarize.masking import Masker


class SummarizerConfigError(ValueError):
    """The chosen backend lacks a required setting (names the setting)."""


def build_chat(s: SummarizeSettings) -> ChatBackend | None:
    """The generative backend the settings name; None for the extractive one."""
    if s.backend == "openai":
        if not s.openai_base_url or not s.openai_model:
            raise SummarizerConfigError("summarize.backend=openai needs summarize.openai_base_url and openai_model")
        from summarize.openai_compat import OpenAIChat

        return OpenAIChat(s.openai_base_url, s.openai_model, api_key=s.openai_api_key, timeout_s=s.timeout_s)
    if s.backend == "transformers":
        if not s.transformers_model:
            raise SummarizerConfigError("summarize.backend=transformers needs summarize.transformers_model")
        from summarize.transformers_local import TransformersChat

        return TransformersChat(s.transformers_model, timeout_s=s.timeout_s)
    return None


def build_summarizer(settings: SummarizeSettings, masker: Masker) -> Summarizer:
    """The configured backend, masking with ``masker`` (the service's one, built from ``privacy.mask_entities``)."""
    chat = build_chat(settings)
    return ExtractiveSummarizer(masker=masker) if chat is None else GenerativeSummarizer(chat, masker=masker)

