"""Training loop: DanQ on windows HDF5 files, resumable, single process or torchrun/DDP.

Paper defaults (Quang & Xie 2016, `DanQ_train.py` on Keras 0.2.0): binary cross-entropy,
RMSprop (lr 1e-3, rho 0.9, eps 1e-6) stepped as Keras 0.2.0 does (eps inside the square
root, see recipe.py), Keras 0.2's initialisers, batch 100, at most 60 epochs, early stopping
on validation loss as Keras 0.2's EarlyStopping(patience=5) counts, best checkpoint kept.
The ``torch`` recipe swaps in PyTorch's initialisers, optimizer formula and patience count.
Work is bounded by counts (epochs, early stopping), never by wall-clock time, so the same
seed and thread count give the same model on an idle or a busy machine.

Files written (rank 0 only, each via a temporary name and a rename):

* ``out`` (model.pt): the best model by validation loss, self-describing (model.py);
* ``<out stem>.last.pt``: resume state (model, optimizer, RNG states, data position,
  epoch, step, best so far, history), written every ``checkpoint_every`` steps, at each
  epoch end, and on SIGINT/SIGTERM (then training stops and `--resume` carries on);
* ``history``: history.tsv, rewritten after every epoch.
"""

from __future__ import annotations

import math
import os
import random
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from danq_pipeline import __version__
from danq_pipeline._device import autocast_context, resolve_device, seed_everything
from danq_pipeline._io import ensure_writable, write_tsv
from danq_pipeline.dataset import WindowsH5
from danq_pipeline.errors import DanQError
from danq_pipeline.loader import epoch_plan, iter_batches, to_one_hot
from danq_pipeline.model import build_model, load_checkpoint, save_checkpoint
from danq_pipeline.predictor import Predictor, check_precision
from danq_pipeline.recipe import check_recipe, make_optimizer, stops_after
from danq_pipeline.targets import check_same_targets
from danq_pipeline.training_defaults import (
    DEFAULT_PRECISION,
    DEFAULT_RECIPE,
    PREDICT_BATCH_SIZE,
    PRESET_SCHEDULE,
)

HISTORY_COLUMNS = (
    "epoch",
    "train_loss",
    "valid_loss",
    "valid_mean_auroc",
    "valid_mean_auprc",
    "seconds",
    "lr",
    "samples_per_s",
    "saved",
    "train_samples",
)
# settings that must not change between a run and its --resume
RESUME_KEYS = (
    "preset",
    "recipe",
    "batch_size",
    "seed",
    "rc_augment",
    "max_train_windows",
    "world_size",
    "n_train",
    "model_overrides",
)
STOP_CHECK_STEPS = 20  # under DDP, steps between the ranks' agreement on a stop signal
PROGRESS_LINES_PER_EPOCH = (
    10  # plain progress lines per epoch when stderr is not a terminal (log files)
)


@dataclass
class Settings:
    """Training settings, recorded in every checkpoint. `train_model` fills every field; the
    defaults live once, in its signature (none here to disagree with them)."""

    preset: str
    recipe: str
    epochs: int
    batch_size: int
    lr: float
    patience: int
    seed: int
    deterministic: bool
    precision: str
    rc_augment: bool
    checkpoint_every: int | None
    max_train_windows: int | None
    workers: int
    world_size: int
    n_train: int
    model_overrides: dict
    train_path: str
    valid_path: str


@dataclass
class State:
    """Where training stands; everything a resume needs besides weights and optimizer."""

    epoch: int = 0  # current epoch, 0-based
    position: int = 0  # global samples consumed in the current epoch
    step: int = 0  # optimizer steps so far
    loss_sum: float = 0.0  # sum of batch-mean losses in the current epoch
    loss_batches: int = 0
    epoch_seconds: float = 0.0
    best_loss: float = math.inf
    best_epoch: int = -1
    bad_epochs: int = 0
    done: str = ""  # "" while training; else why it stopped
    history: list = field(default_factory=list)


def last_path(out: str | os.PathLike) -> Path:
    """The resume checkpoint that goes with `out`: ``<out stem>.last.pt`` in the same folder."""
    out = Path(out)
    return out.with_name(out.stem + ".last.pt")


def train_model(
    train: str | os.PathLike,
    valid: str | os.PathLike,
    out: str | os.PathLike,
    *,
    history: str | os.PathLike | None = None,
    preset: str = "danq",
    recipe: str = DEFAULT_RECIPE,
    epochs: int | None = None,
    batch_size: int = 100,
    lr: float = 1e-3,
    patience: int | None = None,
    seed: int = 1,
    deterministic: bool = False,
    device: str | torch.device | None = "auto",
    precision: str = DEFAULT_PRECISION,
    workers: int = 0,
    rc_augment: bool = True,
    checkpoint_every: int | None = 1000,
    resume: bool = False,
    max_train_windows: int | None = None,
    model_overrides: dict | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Train a DanQ model and keep the best checkpoint by validation loss.

    Parameters
    ----------
    train, valid : path
        Windows HDF5 files (``danq prepare``); their target tables must agree.
    out : path
        Best model checkpoint (model.pt). The resume state goes to ``last_path(out)``.
    history : path, optional
        history.tsv, rewritten each epoch. Default is ``<out dir>/history.tsv``.
    preset : str
        Model size (model.PRESETS): ``danq`` (the paper), ``danq-jaspar``, ``small``.
    recipe : str
        ``paper`` (Keras 0.2's RMSprop, initialisers and early-stopping count, as DanQ was
        trained) or ``torch`` (PyTorch's defaults); see recipe.py.
    epochs, patience : int, optional
        Epoch budget and early-stopping patience; default: the preset's (PRESET_SCHEDULE).
    max_train_windows : int, optional
        Train on a fixed subsample of this many windows. Default is all.
    model_overrides : dict, optional
        DanQ keyword arguments replacing the preset's (e.g. ``dropout_lstm=0``).
    progress : bool, optional
        Show a tqdm bar; None (default) shows it when stderr is a terminal.

    Returns
    -------
    history : pandas.DataFrame
        One row per epoch, the columns of history.tsv.
    """
    check_recipe(recipe)
    if preset not in PRESET_SCHEDULE:
        raise DanQError(
            f"unknown model preset {preset!r}; choose one of {', '.join(PRESET_SCHEDULE)}"
        )
    default_epochs, default_patience = PRESET_SCHEDULE[preset]
    ensure_writable(out, "out")  # before the first epoch, not after it
    ensure_writable(history or Path(out).parent / "history.tsv", "history")
    dist = _Distributed.setup(device)
    seed_everything(seed + dist.rank, deterministic)
    train_h5, valid_h5 = _open_data(train, valid)
    settings = Settings(
        preset=preset,
        recipe=recipe,
        epochs=epochs or default_epochs,
        batch_size=batch_size,
        lr=lr,
        patience=patience or default_patience,
        seed=seed,
        deterministic=deterministic,
        precision=check_precision(precision),
        rc_augment=rc_augment and not train_h5.rc_pairs,
        checkpoint_every=checkpoint_every,
        max_train_windows=max_train_windows,
        workers=workers,
        world_size=dist.world_size,
        n_train=len(train_h5),
        model_overrides=dict(model_overrides or {}),
        train_path=str(train),
        valid_path=str(valid),
    )
    run = _Run(settings, train_h5, valid_h5, out, history, dist, progress)
    try:
        run.prepare(resume)
        with _StopSignals() as stop:
            run.loop(stop)
    finally:
        dist.close()
    return run.history_frame()


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped training after its resume state was saved.

    A KeyboardInterrupt, so it is never mistaken for a finished run; `exit_status` is the
    shell's 128 + signal number (130 for SIGINT, 143 for SIGTERM).
    """

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.exit_status = 128 + signum


class _StopSignals:
    """Turn SIGINT/SIGTERM into a request to stop at the next step boundary (main thread only;
    elsewhere the signals keep their handlers). `signum` is the signal received, or 0."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum = 0
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = signum

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


class _Distributed:
    """Rank, world size and device under torchrun (RANK/WORLD_SIZE/LOCAL_RANK), else one process."""

    def __init__(self, rank: int, world_size: int, local_rank: int, device: torch.device) -> None:
        self.rank, self.world_size, self.local_rank, self.device = (
            rank,
            world_size,
            local_rank,
            device,
        )

    @classmethod
    def setup(cls, device: str | torch.device | None) -> _Distributed:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls(0, 1, 0, resolve_device(device))
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        dev = resolve_device(device)
        if dev.type == "cuda":
            dev = torch.device("cuda", local)
            torch.cuda.set_device(dev)
        if not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        return cls(rank, world, local, dev)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def agree(self, flag: bool) -> bool:
        """True on every rank when rank 0 says so (stop signals, early stopping)."""
        if self.world_size == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        torch.distributed.broadcast(t, src=0)
        return bool(t.item())

    def close(self) -> None:
        if self.world_size > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _open_data(train: str | os.PathLike, valid: str | os.PathLike) -> tuple[WindowsH5, WindowsH5]:
    """Open both files and check they describe the same targets and window size."""
    tr, va = WindowsH5(train), WindowsH5(valid)
    if len(tr) == 0:
        raise DanQError(f"{train}: no training windows; check the prepare step's holdout settings")
    if len(va) == 0:
        raise DanQError(
            f"{valid}: no validation windows; check the prepare step's holdout settings"
        )
    if tr.window != va.window:
        raise DanQError(
            f"{valid}: windows of {va.window} bp but {train} has {tr.window} bp; "
            "prepare both with the same window size"
        )
    check_same_targets(
        tr.targets,
        va.targets,
        valid,
        "prepare both from the same targets sheet",
        expected_from=train,
    )
    return tr, va


class _Run:
    """One training run: model, optimizer, state, and the files it writes."""

    def __init__(
        self,
        settings: Settings,
        train_h5: WindowsH5,
        valid_h5: WindowsH5,
        out,
        history,
        dist: _Distributed,
        progress: bool | None,
    ) -> None:
        self.s, self.train_h5, self.valid_h5, self.dist = settings, train_h5, valid_h5, dist
        self.out = Path(out)
        self.last = last_path(out)
        self.history_path = Path(history) if history else self.out.parent / "history.tsv"
        self.progress = progress
        self.state = State()
        self.loss_fn = nn.BCEWithLogitsLoss()

    # -- setup -------------------------------------------------------------------------------------------
    def prepare(self, resume: bool) -> None:
        """Build model and optimizer; load the resume state when asked and present."""
        s = self.s
        self.model = build_model(
            s.preset,
            len(self.train_h5.targets),
            self.train_h5.window,
            recipe=s.recipe,
            **s.model_overrides,
        ).to(self.dist.device)
        self.optimizer = make_optimizer(s.recipe, self.model.parameters(), s.lr)
        if resume and self.last.exists():
            self._load_resume()
        elif resume:
            _log(f"no resume state at {self.last}; starting from scratch", self.dist.main)
        self.net = self.model
        if self.dist.world_size > 1:
            ids = [self.dist.device.index] if self.dist.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)

    def _load_resume(self) -> None:
        ckpt = load_checkpoint(self.last)
        old = ckpt.get("training", {})
        for key in RESUME_KEYS:
            if key in old and old[key] != asdict(self.s)[key]:
                raise DanQError(
                    f"{self.last}: was written with {key}={old[key]!r}, now {asdict(self.s)[key]!r}; "
                    "use the same settings to --resume, or delete the file to start over"
                )
        try:
            self.model.load_state_dict(ckpt["state_dict"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
        except (KeyError, RuntimeError, ValueError) as err:
            raise DanQError(
                f"{self.last}: resume state does not fit this model ({type(err).__name__}); "
                "delete it to start over"
            ) from None
        self.state = State(**ckpt["state"])
        if self.state.done == "epochs" and self.state.epoch < self.s.epochs:
            self.state.done = ""  # carry on: more epochs asked for now
        if self.dist.world_size == 1:
            _set_rng(ckpt["rng"])
        else:  # each rank reseeds its dropout stream from the step (not bit-exact, see docs)
            torch.manual_seed(self.s.seed * 100_003 + self.dist.rank * 7919 + self.state.step)
        _log(
            f"resuming {self.last}: epoch {self.state.epoch + 1}, sample {self.state.position}, "
            f"step {self.state.step}",
            self.dist.main,
        )

    # -- main loop ---------------------------------------------------------------------------------------
    def loop(self, stop: _StopSignals) -> None:
        """Epochs until the epoch budget or early stopping ends training; a stop signal saves
        the exact resume state and raises `TrainingInterrupted`."""
        self.stop = stop
        while not self.state.done and self.state.epoch < self.s.epochs:
            if not self._train_epoch():
                self._interrupted()
            self._end_epoch()
        if not self.state.done:
            self.state.done = "epochs"
        if self.dist.main:
            self._save_last()
        _log(
            f"training stopped ({self.state.done}); best epoch {self.state.best_epoch + 1} "
            f"valid loss {self.state.best_loss:.5f} -> {self.out}",
            self.dist.main,
        )

    def _interrupted(self) -> None:
        st = self.state
        if self.dist.main:
            self._save_last()
        name = signal.Signals(self.stop.signum).name
        message = (
            f"{name} at epoch {st.epoch + 1}, sample {st.position} (step {st.step}); resume state saved "
            f"to {self.last}: run the same command with --resume to continue"
        )
        raise TrainingInterrupted(self.stop.signum, message)

    def _train_epoch(self) -> bool:
        """Train from the current position to the end of the epoch; False when a stop signal came."""
        s, st = self.s, self.state
        plan = epoch_plan(
            len(self.train_h5), st.epoch, s.seed, rc_augment=s.rc_augment, limit=s.max_train_windows
        )
        n_epoch = len(plan.order)
        pin = self.dist.device.type == "cuda"
        batches = iter_batches(
            self.train_h5,
            plan,
            s.batch_size,
            start=st.position,
            workers=s.workers,
            pin_memory=pin,
            rank=self.dist.rank,
            world_size=self.dist.world_size,
        )
        self.model.train()
        t0 = time.monotonic()
        log = _EpochLog(
            n_epoch, st.epoch, s.epochs, self.dist.main and not _show_bar(self.progress)
        )
        with _progress_bar(
            n_epoch, st.position, st.epoch, self.progress if self.dist.main else False
        ) as bar:
            for batch in batches:
                loss = self._step(batch.codes, batch.labels)
                bar.update(batch.position - st.position)
                st.position = batch.position
                st.loss_sum += loss
                st.loss_batches += 1
                bar.set_postfix(loss=f"{st.loss_sum / st.loss_batches:.4f}", refresh=False)
                log.update(st.position, st.loss_sum / st.loss_batches)
                if s.checkpoint_every and st.step % s.checkpoint_every == 0 and self.dist.main:
                    st.epoch_seconds += time.monotonic() - t0
                    t0 = time.monotonic()
                    self._save_last()
                if self._stop_agreed():
                    st.epoch_seconds += time.monotonic() - t0
                    return False
        st.epoch_seconds += time.monotonic() - t0
        return True

    def _step(self, codes: torch.Tensor, labels: torch.Tensor) -> float:
        """One optimizer step on a batch; returns the batch's mean loss."""
        dev = self.dist.device
        x = to_one_hot(codes, dev)
        y = labels.to(dev, non_blocking=True)
        with autocast_context(dev, self.s.precision == "bf16"):
            logits = self.net(x)
        loss = self.loss_fn(logits.float(), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.state.step += 1
        return float(loss.detach())

    def _stop_agreed(self) -> bool:
        """Whether a stop signal ends training after this step. One process decides at every
        step; under DDP the ranks agree (a broadcast that waits for the GPU) only every
        STOP_CHECK_STEPS steps, so the check never serialises each step."""
        if self.dist.world_size > 1 and self.state.step % STOP_CHECK_STEPS:
            return False
        return self.dist.agree(self.stop.signum != 0)

    def _end_epoch(self) -> None:
        """Validate, keep the best model, log a history row, count epochs without improvement."""
        st = self.state
        valid_loss, auroc, auprc = validate(
            self.model,
            self.valid_h5,
            batch_size=max(self.s.batch_size, 256),
            device=self.dist.device,
            precision=self.s.precision,
        )
        valid_loss = self._rank0_value(valid_loss)
        st.loss_sum = self._mean_over_ranks(st.loss_sum)
        improved = valid_loss < st.best_loss
        if improved:
            st.best_loss, st.best_epoch = valid_loss, st.epoch
            if self.dist.main:
                self._save_best(valid_loss, auroc)
        n_seen = st.position // self.dist.world_size * self.dist.world_size
        st.history.append(self._history_row(valid_loss, auroc, auprc, improved, n_seen))
        _log(_format_row(st.history[-1], self.s.epochs), self.dist.main)
        st.bad_epochs = 0 if improved else st.bad_epochs + 1
        st.epoch, st.position, st.loss_sum, st.loss_batches, st.epoch_seconds = (
            st.epoch + 1,
            0,
            0.0,
            0,
            0.0,
        )
        limit = stops_after(self.s.recipe, self.s.patience)
        if st.bad_epochs >= limit:
            st.done = f"early stopping: no better valid loss for {limit} epochs (patience {self.s.patience})"
        if self.dist.main:
            self._write_history()
            self._save_last()

    def _rank0_value(self, value: float) -> float:
        if self.dist.world_size == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.dist.device)
        torch.distributed.broadcast(t, src=0)
        return float(t.item())

    def _mean_over_ranks(self, value: float) -> float:
        """Mean of `value` over ranks (each rank's train loss is over its share of the batch)."""
        if self.dist.world_size == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.dist.device)
        torch.distributed.all_reduce(t)
        return float(t.item()) / self.dist.world_size

    # -- files -------------------------------------------------------------------------------------------
    def _history_row(
        self, valid_loss: float, auroc: float, auprc: float, saved: bool, n_seen: int
    ) -> dict:
        st = self.state
        secs = st.epoch_seconds
        return {
            "epoch": st.epoch + 1,
            "train_loss": st.loss_sum / max(st.loss_batches, 1),
            "valid_loss": valid_loss,
            "valid_mean_auroc": auroc,
            "valid_mean_auprc": auprc,
            "seconds": round(secs, 2),
            "lr": self.optimizer.param_groups[0]["lr"],
            "samples_per_s": round(n_seen / secs, 1) if secs > 0 else float("nan"),
            "saved": bool(saved),
            "train_samples": n_seen,
        }

    def history_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.state.history, columns=list(HISTORY_COLUMNS))

    def _write_history(self) -> None:
        write_tsv(self.history_frame(), self.history_path, float_format="%.6g")

    def _common_extra(self) -> dict[str, Any]:
        return {
            "preset": self.s.preset,
            "training": asdict(self.s),
            "epoch": self.state.epoch + 1,
            "step": self.state.step,
            "window_size": self.train_h5.window,
        }

    def _save_best(self, valid_loss: float, auroc: float) -> None:
        extra = {**self._common_extra(), "valid_loss": valid_loss, "valid_mean_auroc": auroc}
        save_checkpoint(self.out, self.model, self.train_h5.targets, extra)

    def _save_last(self) -> None:
        extra = {
            **self._common_extra(),
            "optimizer": self.optimizer.state_dict(),
            "rng": _get_rng(),
            "state": asdict(self.state),
            "kind": "resume-state",
        }
        save_checkpoint(self.last, self.model, self.train_h5.targets, extra)


@torch.no_grad()
def validate(
    model: nn.Module,
    data: WindowsH5,
    *,
    batch_size: int = PREDICT_BATCH_SIZE,
    device: torch.device | None = None,
    precision: str = DEFAULT_PRECISION,
) -> tuple[float, float, float]:
    """Mean BCE loss, mean AUROC and mean AUPRC over targets (with both classes) on `data`.

    Reads the file in order, in large blocks; forward strand only (predict.Predictor).
    """
    from danq_pipeline.metrics import auroc_auprc

    predictor = Predictor.for_training(
        model, precision=precision, batch_size=batch_size, device=device
    )
    logits, labels = [], []
    for _, codes, y in data.iter_blocks(max(batch_size, 4096)):
        logits.append(predictor.logits(codes))
        labels.append(y.astype(np.float32))
    z, y = torch.from_numpy(np.concatenate(logits)), torch.from_numpy(np.concatenate(labels))
    loss = float(nn.functional.binary_cross_entropy_with_logits(z, y))
    auroc, auprc = auroc_auprc(y.numpy(), z.numpy())  # NaN for targets without both classes
    defined = ~np.isnan(auroc)
    if not defined.any():
        return loss, float("nan"), float("nan")
    return loss, float(auroc[defined].mean()), float(auprc[defined].mean())


def _get_rng() -> dict[str, Any]:
    """Every RNG state as tensors and plain numbers, so checkpoints load with weights_only."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, mt, gauss_next = random.getstate()
    rng = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(gauss),
        },
        "python": {
            "version": int(version),
            "state": torch.tensor(mt, dtype=torch.int64),
            "gauss_next": gauss_next,
        },
    }
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return rng


def _set_rng(rng: dict[str, Any]) -> None:
    """Restore the states `_get_rng` saved."""
    torch.set_rng_state(rng["torch"])
    n = rng["numpy"]
    np.random.set_state(
        (
            n["kind"],
            n["keys"].numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    py = rng["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss_next"]))
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def _show_bar(progress: bool | None) -> bool:
    """A tqdm bar when asked, or (None) when stderr is a terminal."""
    return sys.stderr.isatty() if progress is None else progress


class _EpochLog:
    """Plain progress lines for log files (where a tqdm bar is unreadable): a line at each tenth
    of the epoch with windows done, running loss, speed and the epoch's ETA."""

    def __init__(self, total: int, epoch: int, epochs: int, enabled: bool) -> None:
        self.total, self.epoch, self.epochs, self.enabled = total, epoch, epochs, enabled
        self.step = max(total // PROGRESS_LINES_PER_EPOCH, 1)
        self.next = self.step
        self.start, self.t0 = None, time.monotonic()

    def update(self, position: int, loss: float) -> None:
        if self.start is None:
            self.start = position
        if not self.enabled or position < self.next or position >= self.total:
            return
        self.next = (position // self.step + 1) * self.step
        rate = (position - self.start) / max(time.monotonic() - self.t0, 1e-9)
        eta = (self.total - position) / rate if rate > 0 else float("nan")
        _log(
            f"epoch {self.epoch + 1}/{self.epochs}: {position:,}/{self.total:,} windows "
            f"({100 * position / self.total:.0f}%), loss {loss:.4f}, {rate:,.0f} win/s, epoch ETA {eta:.0f} s"
        )


def _progress_bar(total: int, initial: int, epoch: int, show: bool | None):
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=f"epoch {epoch + 1}",
        unit="win",
        unit_scale=True,
        disable=(None if show is None else not show),
        file=sys.stderr,
        dynamic_ncols=True,
        smoothing=0.1,
        leave=False,
    )


def _format_row(row: dict, epochs: int) -> str:
    return (
        f"epoch {row['epoch']}/{epochs}: train_loss {row['train_loss']:.4f} valid_loss {row['valid_loss']:.4f} "
        f"auroc {row['valid_mean_auroc']:.4f} auprc {row['valid_mean_auprc']:.4f} "
        f"{row['samples_per_s']} win/s {row['seconds']} s{' *saved' if row['saved'] else ''}"
    )


def _log(message: str, show: bool = True) -> None:
    if show:
        print(f"danq train: {message}", file=sys.stderr, flush=True)


__all__ = [
    "train_model",
    "validate",
    "last_path",
    "Settings",
    "TrainingInterrupted",
    "HISTORY_COLUMNS",
    "PRESET_SCHEDULE",
    "__version__",
]
