"""The one path that runs a trained DanQ: batching, device, precision and strand averaging.

Every stage that needs model outputs (evaluate, score-variants, background, ism, motifs,
validation during training, `danq predict`) asks a `Predictor`; nothing else in the package
batches, casts or reverse-complement-averages model calls. Inputs are uint8 base codes
(N, L) (`danq_pipeline.encode`); they are one-hot encoded on the device, batch by batch, so
the host never holds a float copy of the windows.

Precision: ``fp32`` (default; tiny variant effects need it) or ``bf16``. On the CPU a bf16
*copy* of the weights runs 2x faster than fp32 weights under autocast (which re-casts the
dense layer on every call); on CUDA and for a network that is still training, bf16 means
autocast over the fp32 weights.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from danq_pipeline._device import autocast_context, resolve_device
from danq_pipeline.encode import reverse_complement_codes
from danq_pipeline.errors import DanQError
from danq_pipeline.loader import to_one_hot
from danq_pipeline.model import TrainedModel, load_model
from danq_pipeline.training_defaults import DEFAULT_PRECISION, PRECISIONS
from danq_pipeline.training_defaults import PREDICT_BATCH_SIZE as DEFAULT_BATCH_SIZE
from danq_pipeline.variant_shared import SharedDanQ, supports

SHARED_CHUNK = 64  # windows per plain forward call in the pair path (bounds activation memory)


def check_precision(precision: str) -> str:
    """Return `precision` when known, else a one-line error naming the choices."""
    if precision not in PRECISIONS:
        raise DanQError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    return precision


@dataclass
class Predictor:
    """A trained network ready to score windows: device, precision, batch size, strands.

    Build one with `as_predictor` (from a checkpoint path or a `TrainedModel`) or
    `Predictor.for_training` (a network that is still being trained: no copies, autocast).
    """

    model: TrainedModel
    device: torch.device
    precision: str = DEFAULT_PRECISION
    batch_size: int = DEFAULT_BATCH_SIZE
    rc_average: bool = True
    live: bool = False
    _run: nn.Module = field(init=False, repr=False)
    _autocast: bool = field(init=False, repr=False)
    _shared: SharedDanQ | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        check_precision(self.precision)
        if self.batch_size < 1:
            raise DanQError(f"batch_size must be at least 1, got {self.batch_size}")
        net = self.model.net
        if not self.live:
            net.to(self.device).eval()
        copy_bf16 = self.precision == "bf16" and self.device.type == "cpu" and not self.live
        self._run = bf16_copy(net) if copy_bf16 else net
        self._autocast = self.precision == "bf16" and not copy_bf16

    @classmethod
    def for_training(
        cls,
        net: nn.Module,
        *,
        precision: str = DEFAULT_PRECISION,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: torch.device | None = None,
    ) -> Predictor:
        """Forward-strand logits of a network under training (eval mode only while it runs)."""
        device = device or next(net.parameters()).device
        return cls(
            TrainedModel(net, None, {}), device, precision, batch_size, rc_average=False, live=True
        )

    # ------------------------------------------------------------------ facts about the model
    @property
    def window(self) -> int:
        """Window length in bp the network was trained on."""
        return self.model.window

    @property
    def n_targets(self) -> int:
        """Number of outputs per window."""
        if self.model.targets is not None:
            return len(self.model.targets)
        return int(self.model.net.kwargs["n_targets"])

    @property
    def dtype(self) -> torch.dtype:
        """Dtype of the one-hot inputs fed to the network that runs."""
        return next(self._run.parameters()).dtype

    # ------------------------------------------------------------------ whole windows
    def logits(self, codes: np.ndarray, progress: str | None = None) -> np.ndarray:
        """Logits (n, T) float32 of base codes (n, L), forward strand only, in batches.

        `progress` names a tqdm bar over the batches (None: no bar).
        """
        return self._batched(codes, lambda z: z, progress)

    def _batched(
        self,
        codes: np.ndarray,
        then: Callable[[torch.Tensor], torch.Tensor],
        progress: str | None = None,
    ) -> np.ndarray:
        """`then`(float32 logits) of each batch of `codes`, stacked as (n, T) float32."""
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        starts = range(0, len(codes), self.batch_size)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=progress, unit="batch", leave=False)
        out = [
            then(self._forward(codes[a : a + self.batch_size]).float()).cpu().numpy()
            for a in starts
        ]
        return np.concatenate(out) if out else np.zeros((0, self.n_targets), np.float32)

    def probabilities(self, codes: np.ndarray, reverse: np.ndarray | None = None) -> np.ndarray:
        """Sigmoid probabilities (n, T) float32; averaged over both strands when `rc_average`.

        `reverse` gives the reverse-complement windows when a file stores them (DeepSEA's
        import); otherwise they are computed. Without `rc_average` only `codes` are scored.
        """
        p = self._batched(codes, torch.sigmoid)
        if self.rc_average:
            other = reverse if reverse is not None else reverse_complement_codes(codes)
            p = (p + self._batched(other, torch.sigmoid)) / 2
        return p

    def filter_maxima(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per window and first-layer filter: the largest activation (n, F) and its position (n, F)."""
        conv = self._run.conv
        best, pos = [], []
        for a in range(0, len(codes), self.batch_size):
            x = self._one_hot(codes[a : a + self.batch_size])
            with torch.inference_mode(), autocast_context(self.device, self._autocast):
                top, arg = conv(x).float().max(dim=2)
            best.append(top.cpu().numpy())
            pos.append(arg.cpu().numpy())
        if not best:
            return np.zeros((0, conv.out_channels), np.float32), np.zeros(
                (0, conv.out_channels), np.int64
            )
        return np.concatenate(best), np.concatenate(pos)

    # ------------------------------------------------------------------ REF/ALT pairs
    def allele_probabilities(
        self,
        refs: np.ndarray,
        alts: np.ndarray,
        alt_ref: np.ndarray,
        spans: list[tuple[int, int] | None],
        *,
        shared: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities (float64, (N, T) and (M, T)) of REF windows and of ALT windows made from them.

        `alt_ref[i]` is the REF window ALT window i was made from; `spans[i]` the window bases
        [start, end) where they differ when both have the same length (SNV/MNV), else None.
        With `rc_average` both strands are scored and averaged. With `shared` (and a DanQ in
        eval mode), ALT windows reuse their REF window's work (`variant_shared`).
        """
        window = refs.shape[1]
        if self.rc_average:
            refs = np.concatenate([refs, reverse_complement_codes(refs)])
            alts = np.concatenate([alts, reverse_complement_codes(alts)])
            alt_ref = np.concatenate([alt_ref, alt_ref + len(refs) // 2])
            spans = spans + [
                None if sp is None else (window - sp[1], window - sp[0]) for sp in spans
            ]
        with torch.inference_mode(), autocast_context(self.device, self._autocast):
            if shared and supports(self._run):  # the shared pass reads base codes
                ref_logits, alt_logits = self._shared_logits(
                    self._codes(refs), self._codes(alts), alt_ref, spans
                )
            else:
                logits = self._plain_logits(self._codes(np.concatenate([refs, alts])))
                ref_logits, alt_logits = logits[: len(refs)], logits[len(refs) :]
        p_ref = torch.sigmoid(ref_logits.double()).cpu().numpy()
        p_alt = torch.sigmoid(alt_logits.double()).cpu().numpy()
        if self.rc_average:
            p_ref = (p_ref[: len(p_ref) // 2] + p_ref[len(p_ref) // 2 :]) / 2
            p_alt = (p_alt[: len(p_alt) // 2] + p_alt[len(p_alt) // 2 :]) / 2
        return p_ref, p_alt

    def _shared_logits(
        self,
        ref_x: torch.Tensor,
        alt_x: torch.Tensor,
        alt_ref: np.ndarray,
        spans: list[tuple[int, int] | None],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Shared-compute logits for same-length ALTs; the plain forward for indel ALTs.

        ref_x, alt_x: uint8 base codes (n, L) on the device (only indel ALTs get one-hot encoded).
        """
        runner = self._shared_runner()
        same = [i for i, sp in enumerate(spans) if sp is not None]
        other = [i for i, sp in enumerate(spans) if sp is None]
        idx = torch.tensor(same, dtype=torch.long, device=alt_x.device)
        ref_logits, same_logits = runner(
            ref_x,
            alt_x[idx],
            torch.as_tensor(alt_ref[same], device=alt_x.device),
            [spans[i] for i in same],
        )
        alt_logits = same_logits.new_empty((len(spans), same_logits.shape[1]))
        alt_logits[idx] = same_logits
        if other:
            oidx = torch.tensor(other, dtype=torch.long, device=alt_x.device)
            alt_logits[oidx] = self._plain_logits(alt_x[oidx]).to(alt_logits.dtype)
        return ref_logits, alt_logits

    def _plain_logits(self, codes: torch.Tensor) -> torch.Tensor:
        """`DanQ.forward` logits of device codes (n, L), one-hot encoded `SHARED_CHUNK` windows at
        a time (bounds the activations' memory)."""
        return torch.cat(
            [
                self._run(to_one_hot(codes[i : i + SHARED_CHUNK], self.device, self.dtype))
                for i in range(0, len(codes), SHARED_CHUNK)
            ]
        )

    # ------------------------------------------------------------------ plumbing
    def _shared_runner(self) -> SharedDanQ:
        """The shared-compute runner of the network that runs, made on first use."""
        if self._shared is None:
            self._shared = SharedDanQ(self._run)
        return self._shared

    def _codes(self, codes: np.ndarray) -> torch.Tensor:
        """Codes (n, L) -> uint8 tensor on the device."""
        return torch.from_numpy(np.ascontiguousarray(codes, dtype=np.uint8)).to(self.device)

    def _one_hot(self, codes: np.ndarray) -> torch.Tensor:
        """Codes (n, L) -> one-hot (n, 4, L) on the device, in the running network's dtype."""
        return to_one_hot(self._codes(codes), self.device, self.dtype)

    def _forward(self, codes: np.ndarray) -> torch.Tensor:
        """Logits of one batch, in eval mode (a training network gets its mode back).

        A loaded DanQ on the CPU runs `SharedDanQ.window_logits`: the same network with a
        convolution that reads base codes (k-mer table, or one GEMM for bf16 on AMX CPUs).
        """
        if not self.live and self.device.type == "cpu" and supports(self._run):
            with torch.inference_mode():
                return self._shared_runner().window_logits(self._codes(codes))
        net = self._run
        was_training = net.training
        net.eval()
        try:
            with torch.inference_mode(), autocast_context(self.device, self._autocast):
                return net(self._one_hot(codes))
        finally:
            net.train(was_training)


def as_predictor(
    model: str | os.PathLike | TrainedModel | Predictor,
    *,
    device: str | torch.device | None = "auto",
    precision: str = DEFAULT_PRECISION,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rc_average: bool = True,
    threads: int | None = None,
) -> Predictor:
    """A `Predictor` from a checkpoint path or a `TrainedModel` (a `Predictor` is returned as it is).

    `threads` sets torch's CPU thread count for the process (None leaves it alone).
    """
    if threads is not None:
        torch.set_num_threads(threads)
    if isinstance(model, Predictor):
        return model
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model, device=None)
    if not isinstance(model, TrainedModel):
        raise DanQError(
            f"model must be a checkpoint path or a TrainedModel (from load_model), "
            f"not {type(model).__name__}"
        )
    return Predictor(model, resolve_device(device), precision, batch_size, rc_average)


def predictor_from_kwargs(
    model: str | os.PathLike | TrainedModel | Predictor, kwargs: dict[str, Any]
) -> Predictor:
    """`as_predictor` with the predictor's own options popped from a stage's keyword arguments."""
    own = {
        k: kwargs.pop(k) for k in ("device", "precision", "rc_average", "threads") if k in kwargs
    }
    return as_predictor(model, **own)


def bf16_copy(net: nn.Module) -> nn.Module:
    """A bfloat16 copy of `net` in eval mode, made without an intermediate fp32 copy."""
    memo = {
        id(t): _cast_like(t, torch.bfloat16)
        for t in [*net.parameters(), *net.buffers()]
        if t.is_floating_point()
    }
    return copy.deepcopy(net, memo).to(torch.bfloat16).eval()


def _cast_like(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A `dtype` copy of tensor t, still an nn.Parameter (frozen) when t is one."""
    cast = t.detach().to(dtype)
    return nn.Parameter(cast, requires_grad=False) if isinstance(t, nn.Parameter) else cast
