"""A local transformers chat model folder as a chat backend (transformers is imported only when used).

On 2 CPU cores a 1.5B model needs 20-40 s per summary (docs/ARCHITECTURE.md); generation is cut at the
configured timeout (``max_time``), and the truncated answer then fails to parse and falls back.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from summarize.generative import ChatError, ChatTimeout, Message

log = logging.getLogger(__name__)


class TransformersChat:
    def __init__(self, model_dir: str | Path, *, timeout_s: float = 20.0, max_new_tokens: int = 768) -> None:
        self.model_dir = Path(model_dir).expanduser()
        self.name = f"transformers:{self.model_dir.name}"
        self.timeout_s = timeout_s
        self.max_new_tokens = max_new_tokens
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        if self._model is not None:
            return
        if not self.model_dir.is_dir():
            raise ChatError(f"{self.name}: model folder {self.model_dir} not found")
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
            self._model = AutoModelForCausalLM.from_pretrained(self.model_dir, local_files_only=True)
        except (OSError, ValueError, ImportError) as exc:
            raise ChatError(f"{self.name}: cannot load: {exc}") from exc

    def complete(self, messages: list[Message], *, json_mode: bool) -> str:
        with self._lock:  # one generation at a time: the model saturates the cores anyway
            self._load()
            started = time.monotonic()
            try:
                inputs = self._tokenizer.apply_chat_template(
                    messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
                output = self._model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False,
                                              max_time=self.timeout_s)
            except (RuntimeError, ValueError) as exc:
                raise ChatError(f"{self.name}: generation failed: {exc}") from exc
            if time.monotonic() - started >= self.timeout_s:
                raise ChatTimeout(f"{self.name}: generation cut at {self.timeout_s:.0f} s")
            prompt_len = inputs["input_ids"].shape[-1]
            return str(self._tokenizer.decode(output[0][prompt_len:], skip_special_tokens=True))
