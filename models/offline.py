"""Keep every library away from model hubs unless the operator allows downloads."""

from __future__ import annotations

import os

_OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


def enforce_offline(allow_downloads: bool = False) -> None:
    """Set the hub libraries' offline switches.

    Without them a hub name hangs about 70 s on this network before failing; with them it fails at
    once. Called at process start by the CLI and the app factory, before any model library loads.
    """
    if allow_downloads:
        return
    for name in _OFFLINE_VARS:
        os.environ[name] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
