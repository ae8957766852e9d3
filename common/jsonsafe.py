"""JSON parsing for anything a client sends: a deeply nested document is a decode error, never a crash.

``json.loads`` raises ``RecursionError`` on about a thousand nested brackets (a 4 KB message of ``[``),
which the websocket loops and the auth handshake did not expect. Raising ``json.JSONDecodeError``
instead lets every caller keep its one ``except`` clause and answer with its usual ``bad_json`` code.
"""

from __future__ import annotations

import json
from typing import Any


def safe_json_loads(text: str) -> Any:
    """``json.loads`` that reports nesting too deep to parse as a ``json.JSONDecodeError``."""
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise json.JSONDecodeError("nesting too deep", text, 0) from exc
