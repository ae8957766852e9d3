"""An OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama, hosted APIs) as a chat backend."""

from __future__ import annotations

import logging

import httpx

from summarize.generative import ChatError, ChatTimeout, Message

log = logging.getLogger(__name__)


class OpenAIChat:
    """``POST {base_url}/chat/completions``; temperature 0 so the same call gives the same notes."""

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout_s: float = 20.0,
                 max_tokens: int = 1024, transport: httpx.BaseTransport | None = None) -> None:
        self.model = model
        self.name = f"openai:{model}"
        self.max_tokens = max_tokens
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s,
                                    transport=transport)

    def complete(self, messages: list[Message], *, json_mode: bool) -> str:
        body: dict[str, object] = {"model": self.model, "messages": messages, "temperature": 0,
                                   "max_tokens": self.max_tokens}
        if json_mode:
            body["response_format"] = {"type": "json_object"}
        try:
            response = self._client.post("/chat/completions", json=body)
            response.raise_for_status()
            return str(response.json()["choices"][0]["message"]["content"])
        except httpx.TimeoutException as exc:
            raise ChatTimeout(f"{self.name}: no answer in time") from exc
        except httpx.HTTPStatusError as exc:
            raise ChatError(f"{self.name}: HTTP {exc.response.status_code}") from exc
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise ChatError(f"{self.name}: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        self._client.close()
