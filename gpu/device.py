"""Where Whisper runs: CUDA when CTranslate2 sees a GPU, else the CPU; and with which compute type.

CTranslate2 is asked directly (not torch) because it is the runtime that will load the model.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Literal

import ctranslate2

log = logging.getLogger(__name__)

Device = Literal["cpu", "cuda"]
GPU_COMPUTE_TYPES = ("float16", "int8_float16", "int8", "float32")
CPU_COMPUTE_TYPES = ("int8", "int8_float32", "float32")


@dataclass(frozen=True, slots=True)
class DevicePlan:
    """How to construct one ``WhisperModel``: device, compute type and thread layout."""

    device: Device
    compute_type: str
    cpu_threads: int
    num_workers: int


def cuda_device_count() -> int:
    try:
        return int(ctranslate2.get_cuda_device_count())
    except Exception:  # a broken CUDA install reads as no GPU, never as a crash
        log.warning("CUDA probe failed; using the CPU", exc_info=True)
        return 0


def pick_device(requested: Literal["auto", "cpu", "cuda"] = "auto") -> Device:
    """``auto`` means CUDA if CTranslate2 sees a GPU; ``cuda`` without one is an error, not a silent fallback."""
    gpus = cuda_device_count()
    if requested == "cuda" and gpus == 0:
        raise RuntimeError("asr.device='cuda' but CTranslate2 sees no CUDA device")
    if requested == "auto":
        return "cuda" if gpus > 0 else "cpu"
    return requested


def pick_compute_type(device: Device, requested: str = "auto") -> str:
    """float16 on GPU (int8_float16 if asked), int8 on CPU; an explicit choice must suit the device."""
    if requested == "auto":
        return "float16" if device == "cuda" else "int8"
    allowed = GPU_COMPUTE_TYPES if device == "cuda" else CPU_COMPUTE_TYPES
    if requested not in allowed:
        raise ValueError(f"compute_type {requested!r} is not usable on {device}; choose one of {allowed}")
    return requested


def plan_device(
    requested_device: Literal["auto", "cpu", "cuda"] = "auto",
    requested_compute: str = "auto",
    *,
    cpu_threads: int = 0,
    workers: int = 0,
    cores: int | None = None,
) -> DevicePlan:
    """Size threads so decode workers x threads never exceeds the cores (oversubscription only adds jitter).

    On the CPU, one single-threaded worker per core decodes several calls' utterances in parallel;
    on a GPU, two workers keep it fed while one copies results back.
    """
    device = pick_device(requested_device)
    compute_type = pick_compute_type(device, requested_compute)
    cores = cores or os.cpu_count() or 1
    if device == "cuda":
        n_workers = workers or 2
        threads = cpu_threads or 1
    else:
        n_workers = workers or max(1, min(cores, 4))
        threads = cpu_threads or max(1, cores // n_workers)
    return DevicePlan(device=device, compute_type=compute_type, cpu_threads=threads, num_workers=n_workers)
