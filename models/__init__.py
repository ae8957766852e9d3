"""Offline model registry (see registry.py)."""

from models.errors import ModelError
from models.offline import enforce_offline
from models.registry import SPECS, ModelRegistry, ModelSpec, VerifyReport

__all__ = ["SPECS", "ModelError", "ModelRegistry", "ModelSpec", "VerifyReport", "enforce_offline"]
