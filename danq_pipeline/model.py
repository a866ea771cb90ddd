"""The DanQ model (Quang & Xie 2016) and its self-describing checkpoints.

Input: one-hot DNA, float (N, 4, L), alphabet A,C,G,T (see encode.py).
Output: logits (N, n_targets); apply a sigmoid for probabilities.
Layer sizes derive from the hyperparameters, so any window length works.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from danq_pipeline import __version__
from danq_pipeline.encode import ALPHABET
from danq_pipeline.errors import DanQError

CHECKPOINT_FORMAT = "danq-checkpoint"
CHECKPOINT_VERSION = 1

# name -> DanQ keyword arguments (n_targets and seq_len come from the data)
PRESETS: dict[str, dict[str, Any]] = {
    # the paper: 320 x 26 conv, pool 13, BiLSTM 320+320, dense 925
    "danq": dict(n_filters=320, kernel_size=26, pool_size=13, lstm_hidden=320, fc_hidden=925,
                 dropout_conv=0.2, dropout_lstm=0.5),
    # DanQ-JASPAR: 1024 x 30 conv (JASPAR-initialised), pool 15, BiLSTM 512+512
    "danq-jaspar": dict(n_filters=1024, kernel_size=30, pool_size=15, lstm_hidden=512, fc_hidden=925,
                        dropout_conv=0.2, dropout_lstm=0.5),
    # small enough to train on a 2-core CPU in minutes (the demo)
    "small": dict(n_filters=64, kernel_size=19, pool_size=13, lstm_hidden=32, fc_hidden=64,
                  dropout_conv=0.2, dropout_lstm=0.5),
}


class DanQ(nn.Module):
    """Conv motif layer -> ReLU -> max-pool -> dropout -> BiLSTM -> dropout -> dense -> logits."""

    def __init__(self, n_targets: int = 919, seq_len: int = 1000, n_filters: int = 320,
                 kernel_size: int = 26, pool_size: int = 13, lstm_hidden: int = 320,
                 fc_hidden: int = 925, dropout_conv: float = 0.2, dropout_lstm: float = 0.5) -> None:
        super().__init__()
        n_steps = (seq_len - kernel_size + 1) // pool_size
        if n_steps < 1:
            raise DanQError(f"window of {seq_len} bp is too short for kernel {kernel_size} and pool {pool_size}")
        self.kwargs = dict(n_targets=n_targets, seq_len=seq_len, n_filters=n_filters, kernel_size=kernel_size,
                           pool_size=pool_size, lstm_hidden=lstm_hidden, fc_hidden=fc_hidden,
                           dropout_conv=dropout_conv, dropout_lstm=dropout_lstm)
        self.n_steps = n_steps
        self.conv = nn.Conv1d(4, n_filters, kernel_size)
        self.pool = nn.MaxPool1d(pool_size, pool_size)
        self.drop_conv = nn.Dropout(dropout_conv)
        self.lstm = nn.LSTM(n_filters, lstm_hidden, batch_first=True, bidirectional=True)
        self.drop_lstm = nn.Dropout(dropout_lstm)
        self.fc = nn.Linear(n_steps * 2 * lstm_hidden, fc_hidden)
        self.out = nn.Linear(fc_hidden, n_targets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 4, L) float -> logits (N, n_targets)."""
        h = self._motif_track(x)                           # (N, F, steps)
        h = self.drop_conv(h).transpose(1, 2)              # (N, steps, F): LSTM runs along the sequence
        h, _ = self.lstm(h)                                # (N, steps, 2H)
        h = self.drop_lstm(h).flatten(1)
        return self.out(torch.relu(self.fc(h)))

    def _motif_track(self, x: torch.Tensor) -> torch.Tensor:
        """Conv -> max-pool -> ReLU: (N, 4, L) -> (N, F, steps).

        Max-pool and ReLU commute (ReLU is monotone), so pooling first gives the paper's
        values with ReLU on `pool_size` times fewer elements.
        """
        return torch.relu(self.pool(self.conv(x)))


def build_model(preset: str, n_targets: int, seq_len: int, **overrides: Any) -> DanQ:
    """A `DanQ` from a preset name plus keyword overrides.

    The `danq-jaspar` preset's first filters are initialised from JASPAR motifs
    (`jaspar_init`, seeded from torch's global RNG); the others keep PyTorch's init.
    """
    if preset not in PRESETS:
        raise DanQError(f"unknown model preset {preset!r}; choose one of {', '.join(PRESETS)}")
    model = DanQ(n_targets=n_targets, seq_len=seq_len, **{**PRESETS[preset], **overrides})
    if preset == "danq-jaspar":
        jaspar_init(model)
    return model


def jaspar_init(model: DanQ, release: str | None = None, generator: torch.Generator | None = None) -> int:
    """Write JASPAR CORE vertebrate motifs into the first conv filters, as DanQ-JASPAR did.

    Each motif's PFM minus 0.25 goes into one filter and its reverse complement into the
    next, each at a random offset inside the kernel (motifs wider than the kernel are
    centre-cropped; the rest of the kernel keeps its random init, as in the original
    DanQ-JASPAR script); those filters get a bias drawn from U(-1, 0). When there are more
    motifs than pairs of filters, the first ``n_filters // 2`` by matrix id are used.

    Returns
    -------
    n : int
        Number of filters initialised (2 per motif).
    """
    from danq_pipeline.jaspar import load_jaspar

    motifs = sorted(load_jaspar(release=release), key=lambda m: m.matrix_id)
    conv = getattr(model, "module", model).conv
    n_filters, _, k = conv.weight.shape
    motifs = motifs[: n_filters // 2]
    with torch.no_grad():
        for i, motif in enumerate(motifs):
            w = torch.as_tensor(motif.pfm - 0.25, dtype=conv.weight.dtype)
            if w.shape[1] > k:
                cut = (w.shape[1] - k) // 2
                w = w[:, cut:cut + k]
            for j, mat in enumerate((w, w.flip(0).flip(1))):  # ACGT order: complement = channel flip
                off = int(torch.randint(0, k - mat.shape[1] + 1, (1,), generator=generator))
                f = 2 * i + j
                conv.weight[f, :, off:off + mat.shape[1]] = mat
                conv.bias[f] = -torch.rand((), generator=generator)
    return 2 * len(motifs)


def save_checkpoint(path: str | os.PathLike, model: DanQ, targets: pd.DataFrame,
                    extra: dict[str, Any] | None = None) -> None:
    """Write a self-describing checkpoint atomically (temp file, then rename)."""
    module = getattr(model, "module", model)  # unwrap DistributedDataParallel
    state = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "package_version": __version__,
        "alphabet": ALPHABET,
        "model_kwargs": dict(module.kwargs),
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "targets": targets[["id", "name", "class", "source"]].to_dict("list"),
        **(extra or {}),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load and validate a checkpoint dict; refuse truncated, foreign or mismatched files."""
    path = Path(path)
    if not path.exists():
        raise DanQError(f"{path}: no such checkpoint; train one with `danq train`")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises many types for truncated/garbage files
        raise DanQError(f"{path}: not a readable checkpoint ({type(err).__name__}); the file is truncated or "
                        "corrupt, re-run `danq train` or use another checkpoint") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise DanQError(f"{path}: not a danq-pipeline checkpoint (a bare state_dict or another tool's file); "
                        "train one with `danq train`")
    if ckpt.get("format_version", 0) > CHECKPOINT_VERSION:
        raise DanQError(f"{path}: checkpoint format {ckpt['format_version']} is newer than this package "
                        f"({__version__}) understands; upgrade danq-pipeline")
    if ckpt.get("alphabet") != ALPHABET:
        raise DanQError(f"{path}: checkpoint alphabet {ckpt.get('alphabet')!r} differs from {ALPHABET!r}")
    return ckpt


def load_model(path: str | os.PathLike, device: str | torch.device | None = "cpu") -> DanQ:
    """Rebuild the model of a checkpoint; `model.targets` holds its target table (DataFrame)."""
    ckpt = load_checkpoint(path)
    model = DanQ(**ckpt["model_kwargs"])
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise DanQError(f"{path}: weights do not match the recorded architecture ({first})") from None
    model.targets = pd.DataFrame(ckpt["targets"])
    model.checkpoint_info = {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer", "rng")}
    model.eval()
    if device is not None:
        model.to(device)
    return model
