"""Variant effect significance: a per-target empirical null of effect sizes from a background VCF.

A raw effect (diff, log-odds) is hard to act on: whether 0.02 is large depends on the target
and the model. As DeepSEA did with 1000 Genomes SNPs, we score a background VCF (e.g. common
SNPs) with the same streaming scorer as score-variants and compare every new effect with the
background's effects of the same target.

**Effect size** (`MEASURES`): DeepSEA's ``|diff| x |logodds|`` by default, ``|diff|`` or
``|logodds|`` on request.

**What is kept** (bounded memory, whatever the background's size), per target:

* the exact largest `tail_size` effects (the tail decides small p-values, so it is exact), and
* a uniform reservoir sample (Algorithm R, seeded) of `sample_size` background alleles, one
  row per allele shared by all targets, for the bulk of the distribution.

A plain reservoir caps p-values at 1/(sample_size + 1); the exact tail keeps every p-value
below tail_size / n exact down to 1 / (n + 1). When n <= tail_size or n <= sample_size
everything is exact.

**p-value** of an effect x for target t: ``(1 + #{background effects >= x}) / (1 + n)``
(DeepSEA's e-value with the +1 correction, so it is never 0). The count is exact when x is
above the tail's smallest value, else ``max(tail_size, n x fraction of the sample >= x)``.

**Combined per-allele score** (`combined_p`): the smallest p-value over targets, turned into
a p-value against the same statistic of the background's sampled alleles (each scored
against the background, leave-one-out): ``(1 + #{sampled alleles with min p <= m}) / (1 + r)``.
This is the minP of Westfall and Young: it is calibrated whatever the correlation between
targets (a Bonferroni or Simes correction assumes independence or is conservative by the
effective number of targets, which for 919 strongly correlated chromatin targets is far below
919), and unlike DeepSEA's geometric mean of e-values it is a p-value, which a geometric mean
dominated by the many unaffected targets is not.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np
import pandas as pd

from danq_pipeline import __version__
from danq_pipeline._io import atomic_path
from danq_pipeline.errors import DanQError
from danq_pipeline.targets import read_targets_h5, write_targets_h5

if TYPE_CHECKING:  # torch stays a lazy import here
    from danq_pipeline.model import TrainedModel

FORMAT = "danq-variant-background"
FORMAT_VERSION = 1
MEASURES = ("diff_x_logodds", "absdiff", "abslogodds")
DEFAULT_MEASURE = "diff_x_logodds"
DEFAULT_SAMPLE_SIZE = 20_000
DEFAULT_TAIL_SIZE = 1_000
COMBINED_METHOD = (
    "minP: min over targets of the per-target p, as a p-value against the background's "
    "sampled alleles' min p (leave-one-out)"
)
TOP_P = 3  # targets listed in top_p_targets
_STR = h5py.string_dtype("utf-8")


def effect_size(
    diff: np.ndarray, logodds: np.ndarray, measure: str = DEFAULT_MEASURE
) -> np.ndarray:
    """Per-(allele, target) effect size (float32, NaN where the scores are NaN)."""
    if measure == "diff_x_logodds":
        return (np.abs(diff) * np.abs(logodds)).astype(np.float32)
    if measure == "absdiff":
        return np.abs(diff).astype(np.float32)
    if measure == "abslogodds":
        return np.abs(logodds).astype(np.float32)
    raise DanQError(
        f"`measure` {measure!r}: unknown effect measure; use one of {', '.join(MEASURES)}",
        params="measure",
    )


def model_checksum(model: TrainedModel) -> str:
    """sha256 of a model's target names and weights (names, shapes and float32 bytes, CPU order).

    The same checkpoint loaded on any device gives the same checksum; retrained or other
    weights give another.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps([str(n) for n in model.targets["name"]]).encode())
    for name, tensor in model.net.state_dict().items():
        t = tensor.detach().to("cpu")
        t = t.float() if t.is_floating_point() else t
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        digest.update(memoryview(np.ascontiguousarray(t.numpy())).cast("B"))  # no copy of the bytes
    return "sha256:" + digest.hexdigest()


# --------------------------------------------------------------------------- the null


@dataclass
class Background:
    """A per-target null of effect sizes: exact top tail + reservoir sample, and the minP null.

    `tail` (k, T) and `sample` (r, T) are float32, each column sorted ascending; `sample_minp`
    (r,) is sorted ascending; `n` is the number of background alleles (ok status).
    """

    measure: str
    n: int
    tail: np.ndarray
    sample: np.ndarray
    sample_minp: np.ndarray
    targets: pd.DataFrame
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # one contiguous row per target: searchsorted on a strided column copies it every call
        self._tail_rows = np.ascontiguousarray(np.asarray(self.tail, dtype=np.float32).T)
        self._sample_rows = np.ascontiguousarray(np.asarray(self.sample, dtype=np.float32).T)

    @property
    def exact(self) -> bool:
        """True when every background effect is kept (n <= tail size, or the sample holds every
        allele): all p-values exact."""
        return self.n <= len(self.tail) or self.n == len(self.sample)

    def count_ge(self, x: np.ndarray) -> np.ndarray:
        """Number of background effects >= x, per target (x: (m, T); float64, NaN where x is NaN)."""
        x = np.asarray(x, dtype=np.float32)
        out = np.full(x.shape, np.nan)
        rows = ~np.isnan(x).any(axis=1)  # scored alleles have every target; others none
        if not rows.any():
            return out
        xt = np.ascontiguousarray(x[rows].T)  # (T, m): one contiguous row of queries per target
        k, r = len(self.tail), len(self.sample)
        if self.n <= k or not r:  # the tail is every effect
            return self._fill(out, rows, k - self._search(self._tail_rows, xt))
        if self.n == r:  # the sample is every allele
            return self._fill(out, rows, r - self._search(self._sample_rows, xt))
        # above the tail's smallest value the tail count is exact; below it every tail value is
        # >= x and the sample estimates the rest: each query needs one of the two searches
        high = xt > self._tail_rows[:, :1]
        counts = np.clip(self.n * (r - self._search(self._sample_rows, xt, ~high)) / r, k, self.n)
        in_tail = k - self._search(self._tail_rows, xt, high)
        counts[high] = in_tail[high]
        return self._fill(out, rows, counts)

    @staticmethod
    def _fill(out: np.ndarray, rows: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Put (T, m) counts into the rows of out (m', T)."""
        out[rows] = counts.T
        return out

    @staticmethod
    def _search(
        sorted_rows: np.ndarray, xt: np.ndarray, where: np.ndarray | None = None
    ) -> np.ndarray:
        """Per target t, positions of xt[t] in sorted_rows[t] (only where `where`; 0 elsewhere)."""
        pos = np.zeros(xt.shape, np.int64)
        for t in range(len(xt)):  # the loop body is only the searches: all arithmetic is vectorised
            if where is None:
                pos[t] = sorted_rows[t].searchsorted(xt[t])
            elif where[t].any():
                pos[t, where[t]] = sorted_rows[t].searchsorted(xt[t, where[t]])
        return pos

    def pvalues(self, effects: np.ndarray) -> np.ndarray:
        """Empirical p-values (1 + #background >= x) / (1 + n), float64 (m, T); NaN stays NaN."""
        return (1.0 + self.count_ge(effects)) / (1.0 + self.n)

    def combined(self, pvalues: np.ndarray) -> np.ndarray:
        """Combined per-allele p-value (minP against the background's sampled alleles); NaN rows stay NaN."""
        out = np.full(len(pvalues), np.nan)
        has = ~np.isnan(pvalues).all(axis=1) if pvalues.shape[1] else np.zeros(len(pvalues), bool)
        if has.any():
            minp = np.nanmin(pvalues[has], axis=1)
            r = len(self.sample_minp)
            out[has] = (1.0 + np.searchsorted(self.sample_minp, minp, side="right")) / (1.0 + r)
        return out

    def significance(self, diff: np.ndarray, logodds: np.ndarray) -> Significance:
        """p-values, combined p and the most significant targets of a block of scored alleles."""
        p = self.pvalues(effect_size(diff, logodds, self.measure))
        return Significance(
            p.astype(np.float32),
            self.combined(p).astype(np.float32),
            top_targets(p, self.targets["name"].to_numpy()),
        )


@dataclass
class Significance:
    """Per-allele significance of a block: `pvalue` (m, T), `combined_p` (m,), `top_p_targets` (m,)."""

    pvalue: np.ndarray
    combined_p: np.ndarray
    top_p_targets: list[str]

    def columns(self, names: np.ndarray, selected: np.ndarray) -> pd.DataFrame:
        """TSV columns: combined_p, min_p, top_p_targets, then p_<target> for the selected targets."""
        p = self.pvalue
        has = ~np.isnan(p).all(axis=1) if p.shape[1] else np.zeros(len(p), bool)
        min_p = np.full(len(p), np.nan, dtype=np.float32)
        if has.any():
            min_p[has] = np.nanmin(p[has], axis=1)
        cols = {"combined_p": self.combined_p, "min_p": min_p, "top_p_targets": self.top_p_targets}
        cols.update({f"p_{names[j]}": p[:, j] for j in selected})
        return pd.DataFrame(cols)


def top_targets(p: np.ndarray, names: np.ndarray, top: int = TOP_P) -> list[str]:
    """'name:p|name:p|...' of the `top` smallest p-values per row, ties in target order ('' without scores)."""
    if not len(p) or not p.shape[1]:
        return [""] * len(p)
    filled = np.where(np.isnan(p), np.inf, p)
    k = min(top, p.shape[1])
    kth = np.partition(filled, k - 1, axis=1)[:, k - 1]  # a partition, not a full sort of every row
    out = []
    for row, limit in zip(filled, kth, strict=True):
        idx = np.flatnonzero(row <= limit)
        idx = idx[np.argsort(row[idx], kind="stable")[:k]]
        out.append("|".join(f"{names[j]}:{row[j]:.3g}" for j in idx if np.isfinite(row[j])))
    return out


# --------------------------------------------------------------------------- building


class BackgroundBuilder:
    """Streaming accumulator of background effects: exact top `tail_size` per target + a reservoir.

    Memory is (tail_size + sample_size + one block) x targets floats whatever the number of
    alleles added.
    """

    def __init__(
        self,
        n_targets: int,
        *,
        sample_size: int = DEFAULT_SAMPLE_SIZE,
        tail_size: int = DEFAULT_TAIL_SIZE,
        seed: int = 0,
    ) -> None:
        if sample_size < 1 or tail_size < 1:
            raise DanQError(
                "`sample_size` and `tail_size` must be at least 1",
                params=("sample_size", "tail_size"),
            )
        self.T, self.R, self.K = n_targets, sample_size, tail_size
        self.n = 0
        self._rng = np.random.default_rng(seed)
        self._sample = np.empty((0, n_targets), np.float32)
        self._fill: list[np.ndarray] = []  # blocks of the reservoir's first R rows, joined once
        self._tail = np.empty((0, n_targets), np.float32)
        self._pending: list[np.ndarray] = []
        self._n_pending = 0

    def add(self, effects: np.ndarray) -> None:
        """Add the effects (m, T) of m background alleles (rows with any NaN are skipped)."""
        effects = np.asarray(effects, dtype=np.float32)
        effects = effects[~np.isnan(effects).any(axis=1)] if len(effects) else effects
        m = len(effects)
        if not m:
            return
        self._reservoir(effects)
        self._pending.append(effects)
        self._n_pending += m
        if self._n_pending >= max(self.K, 4096):
            self._flush()
        self.n += m

    def _reservoir(self, effects: np.ndarray) -> None:
        """Algorithm R, vectorised: item i (0-based overall) replaces slot U{0..i} when that is < R."""
        fill = max(0, min(len(effects), self.R - self.n))
        if fill:
            self._fill.append(effects[:fill].copy())
        rest = effects[fill:]
        if not len(rest):
            return
        self._rows()
        index = self.n + fill + np.arange(len(rest))
        slot = np.floor(self._rng.random(len(rest)) * (index + 1)).astype(np.int64)
        keep = np.flatnonzero(slot < self.R)
        if len(keep):
            # later items replace earlier ones drawn for the same slot, as in the sequential algorithm
            rev = keep[::-1]
            _, first = np.unique(slot[rev], return_index=True)
            chosen = rev[first]
            self._sample[slot[chosen]] = rest[chosen]

    def _rows(self) -> np.ndarray:
        """The reservoir's rows (the fill blocks joined on first need)."""
        if self._fill:
            self._sample = np.concatenate([self._sample, *self._fill])
            self._fill = []
        return self._sample

    def _flush(self) -> None:
        """Fold the pending blocks into the top-`tail_size` values of each target."""
        if not self._pending:
            return
        stacked = np.concatenate([self._tail, *self._pending])
        if len(stacked) > self.K:
            stacked = np.partition(stacked, len(stacked) - self.K, axis=0)[len(stacked) - self.K :]
        self._tail = stacked
        self._pending, self._n_pending = [], 0

    def finish(
        self, measure: str, targets: pd.DataFrame, attrs: dict[str, Any] | None = None
    ) -> Background:
        """The Background: sorted tail and sample, and the sampled alleles' leave-one-out min p."""
        self._flush()
        tail = np.sort(self._tail, axis=0)
        rows = self._rows()
        bg = Background(
            measure, self.n, tail, np.sort(rows, axis=0), np.empty(0), targets, dict(attrs or {})
        )
        if self.n:
            # leave-one-out: an allele's own effect is one of the counted n, so p = count / n
            minp = np.min(bg.count_ge(rows), axis=1) / self.n
            bg.sample_minp = np.sort(minp)
        return bg


# --------------------------------------------------------------------------- storing


def write_background(bg: Background, path: str | os.PathLike) -> Path:
    """Write a Background to HDF5 (temporary name, then renamed); see docs/formats.md."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            for name, data in (("tail", bg.tail), ("sample", bg.sample)):
                h5.create_dataset(
                    name,
                    data=data.astype(np.float32),
                    compression="gzip",
                    compression_opts=4,
                    shuffle=True,
                    chunks=(max(1, min(len(data), 1024)), max(1, data.shape[1]))
                    if data.size
                    else None,
                )
            h5.create_dataset("sample_minp", data=np.asarray(bg.sample_minp, dtype=np.float64))
            write_targets_h5(h5, bg.targets)
            base = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "package_version": __version__,
                "measure": bg.measure,
                "n_alleles": int(bg.n),
                "combined_method": COMBINED_METHOD,
            }
            for key, value in {**bg.attrs, **base}.items():
                h5.attrs[key] = (
                    json.dumps(value)
                    if isinstance(value, (dict, list, tuple)) or value is None
                    else value
                )
    return path


def read_background(path: str | os.PathLike) -> Background:
    """Read a background HDF5 written by `danq background` (one-line errors for other files)."""
    path = Path(path)
    if not path.exists():
        raise DanQError(f"{path}: no such background file; build it with `danq background`")
    try:
        h5 = h5py.File(path, "r")
    except OSError:
        raise DanQError(
            f"{path}: not a readable HDF5 file; rebuild it with `danq background`"
        ) from None
    with h5:
        if h5.attrs.get("format") != FORMAT:
            raise DanQError(
                f"{path}: not a danq background file (format={h5.attrs.get('format')!r}); "
                "build one with `danq background`"
            )
        attrs = {k: _attr(v) for k, v in h5.attrs.items()}
        targets = read_targets_h5(h5)
        return Background(
            str(attrs["measure"]),
            int(attrs["n_alleles"]),
            h5["tail"][:],
            h5["sample"][:],
            h5["sample_minp"][:],
            targets,
            attrs,
        )


def _attr(value: Any) -> Any:
    """An HDF5 attribute as Python: JSON text decoded, numpy scalars unwrapped."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value.item() if isinstance(value, np.generic) else value


def check_background(
    bg: Background, path: str | os.PathLike, model_sum: str, *, rc_average: bool
) -> None:
    """Refuse, in one line, a background that is empty or was built with another model or strand policy."""
    if bg.n == 0 or len(bg.sample_minp) == 0:
        raise DanQError(
            f"{path}: the background holds no scored alleles; rebuild it with `danq background` "
            "from a VCF with scorable variants"
        )
    if bg.attrs.get("model_checksum") != model_sum:
        raise DanQError(
            f"{path}: built with another model ({bg.attrs.get('model')}, "
            f"{str(bg.attrs.get('model_checksum'))[:19]}...) than --model ({model_sum[:19]}...); "
            "rebuild it with `danq background --model` this model"
        )
    if bool(bg.attrs.get("rc_average", True)) != bool(rc_average):
        flag = "with" if bg.attrs.get("rc_average", True) else "without"
        raise DanQError(
            f"{path}: built {flag} strand averaging; score with the same setting "
            "(--no-rc-average on both commands, or on neither)"
        )


class BackgroundCheck:
    """The model-checksum check run in a thread (sha256 of 190 MB of DanQ weights takes ~0.3 s),
    so scoring starts at once; `wait()` raises the one-line error, if any."""

    def __init__(
        self, bg: Background, path: str | os.PathLike, model: TrainedModel, *, rc_average: bool
    ) -> None:
        if bg.n == 0 or len(bg.sample_minp) == 0:  # cheap checks first, before any work
            check_background(bg, path, "", rc_average=rc_average)
        self._error: DanQError | None = None
        self._thread = threading.Thread(
            target=self._run, args=(bg, path, model, rc_average), daemon=True
        )
        self._thread.start()

    def _run(self, bg: Background, path: Any, model: TrainedModel, rc_average: bool) -> None:
        try:
            check_background(bg, path, model_checksum(model), rc_average=rc_average)
        except DanQError as err:
            self._error = err

    def wait(self) -> None:
        """Block until the check is done; raise its error."""
        self._thread.join()
        if self._error is not None:
            raise self._error
