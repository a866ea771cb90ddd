"""Device choice and seeding; nothing here runs at import time."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from danq_pipeline.errors import DanQError


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Return `device`, or CUDA when available and CPU otherwise when it is None/"auto"."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DanQError(
            f"device {device!r} was asked for but no CUDA GPU is visible; use --device cpu"
        )
    return dev


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch; with `deterministic`, ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)


def autocast_context(device: torch.device, bf16: bool):
    """bf16 autocast on `device` when asked (CUDA, or CPUs with AVX512-BF16/AMX), otherwise a no-op."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)
