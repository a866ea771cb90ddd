"""The DanQ model (Quang & Xie 2016) and its self-describing checkpoints.

Input: one-hot DNA, float (N, 4, L), alphabet A,C,G,T (see encode.py).
Output: logits (N, n_targets); apply a sigmoid for probabilities.
Layer sizes derive from the hyperparameters, so any window length works.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from danq_pipeline import __version__
from danq_pipeline._io import atomic_path
from danq_pipeline.encode import ALPHABET
from danq_pipeline.errors import DanQError
from danq_pipeline.recipe import DEFAULT_RECIPE, init_weights
from danq_pipeline.targets import targets_from_checkpoint, targets_to_checkpoint

CHECKPOINT_FORMAT = "danq-checkpoint"
CHECKPOINT_VERSION = 2  # 2: recipe recorded, RNG states stored as tensors (loads with weights_only)
# DanQ-JASPAR_train.py: JASPAR_CORE_2016_vertebrates.npy, reverse complements of script motifs
# 19 and 97-101 (matrix ids below, found by matching the .npy to pyjaspar's JASPAR2016), offsets >= 3
PAPER_JASPAR_RELEASE = "JASPAR2016"
PAPER_RC_MOTIFS = ("MA0035", "MA0138", "MA0139", "MA0140", "MA0141", "MA0142")
PAPER_MOTIF_MARGIN = 3

# name -> DanQ keyword arguments (n_targets and window come from the data)
PRESETS: dict[str, dict[str, Any]] = {
    # the paper: 320 x 26 conv, pool 13, BiLSTM 320+320, dense 925
    "danq": dict(
        n_filters=320,
        kernel_size=26,
        pool_size=13,
        lstm_hidden=320,
        fc_hidden=925,
        dropout_conv=0.2,
        dropout_lstm=0.5,
    ),
    # DanQ-JASPAR: 1024 x 30 conv (JASPAR-initialised), pool 15, BiLSTM 512+512
    "danq-jaspar": dict(
        n_filters=1024,
        kernel_size=30,
        pool_size=15,
        lstm_hidden=512,
        fc_hidden=925,
        dropout_conv=0.2,
        dropout_lstm=0.5,
    ),
    # small enough to train on a 2-core CPU in minutes (the demo)
    "small": dict(
        n_filters=64,
        kernel_size=19,
        pool_size=13,
        lstm_hidden=32,
        fc_hidden=64,
        dropout_conv=0.2,
        dropout_lstm=0.5,
    ),
}


class DanQ(nn.Module):
    """Conv motif layer -> ReLU -> max-pool -> dropout -> BiLSTM -> dropout -> dense -> logits."""

    def __init__(
        self,
        n_targets: int = 919,
        window: int = 1000,
        n_filters: int = 320,
        kernel_size: int = 26,
        pool_size: int = 13,
        lstm_hidden: int = 320,
        fc_hidden: int = 925,
        dropout_conv: float = 0.2,
        dropout_lstm: float = 0.5,
    ) -> None:
        super().__init__()
        n_steps = (window - kernel_size + 1) // pool_size
        if n_steps < 1:
            raise DanQError(
                f"window of {window} bp is too short for kernel {kernel_size} and pool {pool_size}"
            )
        self.kwargs = dict(
            n_targets=n_targets,
            window=window,
            n_filters=n_filters,
            kernel_size=kernel_size,
            pool_size=pool_size,
            lstm_hidden=lstm_hidden,
            fc_hidden=fc_hidden,
            dropout_conv=dropout_conv,
            dropout_lstm=dropout_lstm,
        )
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
        h = self._motif_track(x)  # (N, F, steps)
        h = self.drop_conv(h).transpose(1, 2)  # (N, steps, F): LSTM runs along the sequence
        h, _ = self.lstm(h)  # (N, steps, 2H)
        h = self.drop_lstm(h).flatten(1)
        return self.out(torch.relu(self.fc(h)))

    def _motif_track(self, x: torch.Tensor) -> torch.Tensor:
        """Conv -> max-pool -> ReLU: (N, 4, L) -> (N, F, steps).

        Max-pool and ReLU commute (ReLU is monotone), so pooling first gives the paper's
        values with ReLU on `pool_size` times fewer elements.
        """
        return torch.relu(self.pool(self.conv(x)))


def build_model(
    preset: str, n_targets: int, window: int, recipe: str = DEFAULT_RECIPE, **overrides: Any
) -> DanQ:
    """A `DanQ` from a preset name plus keyword overrides, initialised as `recipe` says.

    The `danq-jaspar` preset's first filters are then written from JASPAR motifs
    (`jaspar_init`, as the authors' DanQ-JASPAR script); both use torch's global RNG.
    """
    if preset not in PRESETS:
        raise DanQError(f"unknown model preset {preset!r}; choose one of {', '.join(PRESETS)}")
    model = DanQ(n_targets=n_targets, window=window, **{**PRESETS[preset], **overrides})
    init_weights(model, recipe)
    if preset == "danq-jaspar":
        jaspar_init(model)
    return model


def jaspar_motif_matrices(release: str = PAPER_JASPAR_RELEASE) -> list[tuple[str, np.ndarray]]:
    """The motifs DanQ-JASPAR writes into its filters, in filter order: (label, PFM (4, w)).

    As `DanQ-JASPAR_train.py`: every JASPAR CORE vertebrate motif of the release (latest
    version of each; 519 in JASPAR 2016) sorted by matrix id, then the reverse complements of
    the six motifs it lists (script indices 19 and 97-101: GATA1, REST, CTCF, GATA1::TAL1,
    ESRRB, Pou5f1::Sox2), 525 filters in all.
    """
    from danq_pipeline.jaspar import load_jaspar

    motifs = sorted(load_jaspar(release=release), key=lambda m: m.matrix_id)
    forward = [(m.matrix_id, m.pfm) for m in motifs]
    reverse = [
        (f"{m.matrix_id} (reverse complement)", m.pfm[::-1, ::-1].copy())
        for m in motifs
        if m.matrix_id.split(".")[0] in PAPER_RC_MOTIFS
    ]
    return forward + reverse


def jaspar_init(
    model: DanQ, release: str = PAPER_JASPAR_RELEASE, generator: torch.Generator | None = None
) -> int:
    """Write JASPAR motifs into the first conv filters exactly as DanQ-JASPAR's script did.

    Filter i gets motif i of `jaspar_motif_matrices` as PFM - 0.25 at a random offset in
    [3, kernel - w - 3] (the script's ``randint(3, 30 - w + 1 - 3)``; its position reversal only
    undoes Theano's kernel flip) and a bias from U(-1, 0); the rest of each kernel and the
    remaining filters keep their initialisation. A motif wider than kernel - 6 (none in
    JASPAR 2016) is centre-cropped to fit.

    Returns
    -------
    n : int
        Number of filters initialised (525 for the paper's 1,024 x 30 layer and JASPAR 2016).
    """
    conv = getattr(model, "module", model).conv
    n_filters, _, k = conv.weight.shape
    widest = k - 2 * PAPER_MOTIF_MARGIN
    if widest < 1:
        raise DanQError(
            f"kernel of {k} bp leaves no room for JASPAR motifs; use a kernel of at least 7"
        )
    matrices = jaspar_motif_matrices(release)[:n_filters]
    with torch.no_grad():
        for f, (_, pfm) in enumerate(matrices):
            w = torch.as_tensor(pfm - 0.25, dtype=conv.weight.dtype)
            if w.shape[1] > widest:
                cut = (w.shape[1] - widest) // 2
                w = w[:, cut : cut + widest]
            width = w.shape[1]
            off = int(
                torch.randint(
                    PAPER_MOTIF_MARGIN,
                    k - width - PAPER_MOTIF_MARGIN + 1,
                    (1,),
                    generator=generator,
                )
            )
            conv.weight[f, :, off : off + width] = w
            conv.bias[f] = -torch.rand((), generator=generator)
    return len(matrices)


def save_checkpoint(
    path: str | os.PathLike, model: DanQ, targets: pd.DataFrame, extra: dict[str, Any] | None = None
) -> None:
    """Write a self-describing checkpoint atomically (temp file, then rename)."""
    module = getattr(model, "module", model)  # unwrap DistributedDataParallel
    state = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "package_version": __version__,
        "alphabet": ALPHABET,
        "model_kwargs": dict(module.kwargs),
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "targets": targets_to_checkpoint(targets),
        **(extra or {}),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load and validate a checkpoint dict; refuse truncated, foreign or mismatched files."""
    path = Path(path)
    if not path.exists():
        raise DanQError(f"{path}: no such checkpoint; train one with `danq train`")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "GLOBAL" not in str(
            err
        ):  # torch names the blocked global ("unsupported GLOBAL posix.system")
            raise DanQError(
                f"{path}: not a readable checkpoint (UnpicklingError); the file is truncated or "
                "corrupt, re-run `danq train` or use another checkpoint"
            ) from None
        raise DanQError(
            f"{path}: refused: it holds Python objects other than tensors and plain containers "
            "(a checkpoint can run code when such objects load); only load files written by "
            "`danq train`"
        ) from None
    except Exception as err:  # torch raises many types for truncated/garbage files
        raise DanQError(
            f"{path}: not a readable checkpoint ({type(err).__name__}); the file is truncated or "
            "corrupt, re-run `danq train` or use another checkpoint"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise DanQError(
            f"{path}: not a danq-pipeline checkpoint (a bare state_dict or another tool's file); "
            "train one with `danq train`"
        )
    if ckpt.get("format_version", 0) > CHECKPOINT_VERSION:
        raise DanQError(
            f"{path}: checkpoint format {ckpt['format_version']} is newer than this package "
            f"({__version__}) understands; upgrade danq-pipeline"
        )
    if ckpt.get("alphabet") != ALPHABET:
        raise DanQError(
            f"{path}: checkpoint alphabet {ckpt.get('alphabet')!r} differs from {ALPHABET!r}"
        )
    return ckpt


def model_kwargs(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's DanQ arguments; files written before the window length was named
    `window` call it `seq_len`."""
    kwargs = dict(ckpt["model_kwargs"])
    if "seq_len" in kwargs:
        kwargs["window"] = kwargs.pop("seq_len")
    return kwargs


@dataclass(frozen=True)
class TrainedModel:
    """A checkpoint's network with its target table and provenance (everything but weights)."""

    net: DanQ
    targets: pd.DataFrame | None
    info: dict[str, Any]

    @property
    def window(self) -> int:
        """Window length in bp the network reads."""
        return int(self.net.kwargs["window"])


def load_model(path: str | os.PathLike, device: str | torch.device | None = "cpu") -> TrainedModel:
    """Rebuild a checkpoint's network (eval mode, on `device`) with its targets and provenance."""
    ckpt = load_checkpoint(path)
    model = DanQ(**model_kwargs(ckpt))
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise DanQError(
            f"{path}: weights do not match the recorded architecture ({first})"
        ) from None
    model.eval()
    if device is not None:
        model.to(device)
    info = {k: v for k, v in ckpt.items() if k not in ("state_dict", "optimizer", "rng", "targets")}
    return TrainedModel(model, targets_from_checkpoint(ckpt["targets"]), info)
