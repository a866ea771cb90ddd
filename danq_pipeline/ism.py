"""In-silico saturation mutagenesis (ISM): the effect of every single-base substitution.

For a sequence of the model's window length (a genome region, extended with its genomic
context to the window length, or a given sequence, padded with N), every base of the chosen
span is changed to each of the three other bases; all substituted windows are scored in large
batches (a 1000-bp window = 3000 mutants = a dozen forward passes of 256) and compared with the
reference window:

* ``diff``    = sigmoid(alt logit) - sigmoid(ref logit)   (change in probability)
* ``logodds`` = alt logit - ref logit                       (log odds ratio, exact from logits)

Both are 0 at the reference base and NaN where the reference is N (not mutated).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from danq_pipeline import _io
from danq_pipeline.encode import ALPHABET, N_CODE, decode, encode
from danq_pipeline.errors import DanQError
from danq_pipeline.figures import ism_heatmap, ism_logo, save_png
from danq_pipeline.predictor import DEFAULT_BATCH_SIZE, DEFAULT_PRECISION, Predictor, as_predictor
from danq_pipeline.regions import parse_region
from danq_pipeline.targets import select_targets, write_targets_h5


class IsmInput(NamedTuple):
    """A window to mutate: codes (L,) of the model's length, the span [a, b) to mutate in it,
    and where the span lies (chrom, start: genomic 0-based start; "sequence", 0 for a sequence)."""

    codes: np.ndarray
    span: tuple[int, int]
    chrom: str
    start: int


class IsmResult(NamedTuple):
    """ISM of one span: ref codes (S,), positions (S,) 0-based, ref logits (T,), alt logits
    (S, 4, T) (ref base: the ref logit; N positions: NaN), and the scored targets (DataFrame)."""

    chrom: str
    positions: np.ndarray
    ref_codes: np.ndarray
    ref_logit: np.ndarray
    alt_logit: np.ndarray
    targets: pd.DataFrame

    @property
    def logodds(self) -> np.ndarray:
        """Log odds ratio (S, 4, T): alt logit - ref logit."""
        return self.alt_logit - self.ref_logit

    @property
    def diff(self) -> np.ndarray:
        """Probability change (S, 4, T): sigmoid(alt) - sigmoid(ref)."""
        return _sigmoid(self.alt_logit) - _sigmoid(self.ref_logit)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


# ----------------------------------------------------------------------------- inputs


def region_input(genome, region: str, window: int) -> IsmInput:
    """The window of `window` bp centred on `region`, with the region as the mutated span.

    `region` is typed as samtools/UCSC display it (1-based, inclusive), like every region the
    package reads; see `regions.parse_region`.
    """
    chrom, start, end = parse_region(region, genome.lengths, source="region")
    _check_length(end - start, window, f"region {region}")
    w0 = start - (window - (end - start)) // 2
    codes = genome.fetch_codes(chrom, w0, w0 + window, pad=True)
    return IsmInput(codes, (start - w0, end - w0), chrom, start)


def sequence_input(sequence: str, window: int) -> IsmInput:
    """A given sequence centred in a window of `window` bp padded with N."""
    seq = "".join(sequence.split())
    bad = sorted(set(seq.upper()) - set("ACGTN"))
    if not seq or bad:
        raise DanQError(
            f"`sequence`: only A, C, G, T, N allowed (found {''.join(bad) or 'nothing'})",
            params="sequence",
        )
    _check_length(len(seq), window, "`sequence`")
    a = (window - len(seq)) // 2
    codes = np.full(window, N_CODE, dtype=np.uint8)
    codes[a : a + len(seq)] = encode(seq)
    return IsmInput(codes, (a, a + len(seq)), "sequence", 0)


def _check_length(n: int, window: int, what: str) -> None:
    if n > window:
        raise DanQError(
            f"{what} is {n} bp, longer than the model's {window}-bp window; "
            f"mutate at most {window} bp at a time (split the region)",
            params="sequence",
        )


# ----------------------------------------------------------------------------- scoring


def mutants(codes: np.ndarray, span: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """All single-base substitutions in `span`: positions (M,) and alt codes (M,), skipping N."""
    pos = np.arange(*span)
    pos = pos[codes[pos] < 4]
    alts = (codes[pos][:, None] + np.arange(1, 4)) % 4  # the 3 other bases
    return np.repeat(pos, 3), alts.ravel().astype(np.int64)


def saturation_mutagenesis(
    predictor: Predictor,
    inp: IsmInput,
    *,
    target_index: np.ndarray | None = None,
    progress: bool = False,
) -> IsmResult:
    """Score the reference and all 3 x span substitutions of `inp` (batched by the predictor).

    Parameters
    ----------
    predictor : Predictor
        From `predict.as_predictor`; its target table names the targets. ISM scores the
        given strand only, so the predictor's strand averaging is not used.
    inp : IsmInput
        From `region_input` or `sequence_input`.
    target_index : numpy.ndarray, optional
        Target columns to keep (default all).
    progress : bool
        tqdm bar over the mutant batches.
    """
    pos, alt = mutants(inp.codes, inp.span)
    windows = np.repeat(inp.codes[None], len(pos), axis=0)
    windows[np.arange(len(pos)), pos] = alt
    ref = predictor.logits(inp.codes[None])[0]
    logits = predictor.logits(windows, progress="ism" if progress else None)
    return _assemble(predictor.model.targets, inp, pos, alt, ref, logits, target_index)


def _assemble(
    targets: pd.DataFrame | None,
    inp: IsmInput,
    pos: np.ndarray,
    alt: np.ndarray,
    ref: np.ndarray,
    logits: np.ndarray,
    target_index: np.ndarray | None,
) -> IsmResult:
    """Lay mutant logits out as (S, 4, T), with the ref logit at each ref base."""
    a, b = inp.span
    span_codes = inp.codes[a:b]
    idx = np.arange(len(ref)) if target_index is None else np.asarray(target_index)
    out = np.full((b - a, 4, len(idx)), np.nan, dtype=np.float32)
    ok = np.nonzero(span_codes < 4)[0]
    out[ok, span_codes[ok]] = ref[idx]
    out[pos - a, alt] = logits[:, idx]
    if targets is None:
        targets = pd.DataFrame(
            {
                "id": np.arange(len(ref)),
                "name": [f"target_{i}" for i in range(len(ref))],
                "class": [""] * len(ref),
                "source": [""] * len(ref),
            }
        )
    return IsmResult(
        inp.chrom,
        inp.start + np.arange(b - a),
        span_codes,
        ref[idx],
        out,
        targets.iloc[idx].reset_index(drop=True),
    )


# ----------------------------------------------------------------------------- outputs


def ism_table(res: IsmResult) -> pd.DataFrame:
    """Long table: one row per (position, alt base, target) substitution, ref bases left out."""
    s, t = len(res.positions), len(res.targets)
    pos_i, alt_i, tgt_i = np.meshgrid(np.arange(s), np.arange(4), np.arange(t), indexing="ij")
    keep = (alt_i != res.ref_codes[pos_i]) & (res.ref_codes[pos_i] < 4)
    pos_i, alt_i, tgt_i = pos_i[keep], alt_i[keep], tgt_i[keep]
    letters = np.array(list(ALPHABET + "N"))
    ref_p = _sigmoid(res.ref_logit)
    return pd.DataFrame(
        {
            "chrom": res.chrom,
            "position": res.positions[pos_i],
            "ref": letters[res.ref_codes[pos_i]],
            "alt": letters[alt_i],
            "target": res.targets["name"].to_numpy()[tgt_i],
            "ref_prob": ref_p[tgt_i],
            "alt_prob": _sigmoid(res.alt_logit[pos_i, alt_i, tgt_i]),
            "diff": res.diff[pos_i, alt_i, tgt_i],
            "logodds": res.logodds[pos_i, alt_i, tgt_i],
        }
    )


def write_h5(res: IsmResult, path: str | os.PathLike, attrs: dict | None = None) -> None:
    """Write diff, logodds, alt_prob (S, 4, T), ref_prob/ref_logit (T,), positions, ref codes,
    targets and provenance attributes to HDF5 (atomic: temp file, then rename)."""
    import h5py

    with _io.atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        for name, arr in (
            ("diff", res.diff),
            ("logodds", res.logodds),
            ("alt_prob", _sigmoid(res.alt_logit)),
        ):
            h5.create_dataset(
                name, data=arr.astype(np.float32), compression="gzip", compression_opts=1
            )
        h5["ref_prob"] = _sigmoid(res.ref_logit).astype(np.float32)
        h5["ref_logit"] = res.ref_logit.astype(np.float32)
        h5["positions"] = res.positions.astype(np.int64)
        h5["ref"] = res.ref_codes.astype(np.uint8)
        write_targets_h5(h5, res.targets)
        base = {
            "format": "danq-ism",
            "format_version": 1,
            "alphabet": ALPHABET,
            "chrom": res.chrom,
            "start": int(res.positions[0]),
            "end": int(res.positions[-1]) + 1,
            "sequence": decode(res.ref_codes),
        }
        for key, value in {**base, **(attrs or {})}.items():
            h5.attrs[key] = value


def write_tsv(res: IsmResult, path: str | os.PathLike) -> None:
    """The long table (`ism_table`) as TSV (atomic)."""
    _io.write_tsv(ism_table(res), path, float_format="%.5g")


def plot_targets(res: IsmResult, n: int = 4) -> np.ndarray:
    """Up to `n` target columns to draw: those with the largest absolute log odds ratio."""
    strength = np.nan_to_num(np.abs(res.logodds)).max(axis=(0, 1))
    return np.argsort(-strength, kind="stable")[:n]


def importance(res: IsmResult) -> np.ndarray:
    """Per-position importance (S, T): minus the mean log odds ratio of the 3 substitutions,
    so a base whose loss lowers the prediction is positive (0 at N)."""
    lo = res.logodds.astype(np.float64)
    alt_mask = np.ones(lo.shape[:2], dtype=bool)
    ok = res.ref_codes < 4
    alt_mask[np.nonzero(ok)[0], res.ref_codes[ok]] = False
    total = np.where(alt_mask[..., None], np.nan_to_num(lo), 0.0).sum(axis=1)
    return np.where(ok[:, None], -total / 3.0, 0.0)


def plot_heatmap(res: IsmResult, path: str | os.PathLike, columns: np.ndarray) -> None:
    """One 4 x S heatmap of the log odds ratio per drawn target (red: up, blue: down), as a PNG."""
    titles = [
        f"{res.targets['name'].iloc[t]} (ref p={_sigmoid(res.ref_logit[t]):.3f})" for t in columns
    ]
    save_png(ism_heatmap(res.logodds[:, :, columns], res.positions, res.chrom, titles), path)


def plot_logo(res: IsmResult, path: str | os.PathLike, columns: np.ndarray) -> None:
    """Importance logo per drawn target (the reference base, as tall as its importance), as a PNG."""
    titles = [
        f"{res.targets['name'].iloc[t]}: -mean log odds ratio of the 3 substitutions"
        for t in columns
    ]
    save_png(
        ism_logo(importance(res)[:, columns], res.ref_codes, res.positions, res.chrom, titles), path
    )


# ----------------------------------------------------------------------------- the `ism` step


def run_ism(
    model_path: str | os.PathLike,
    out_prefix: str | os.PathLike,
    *,
    fasta: str | None = None,
    region: str | None = None,
    sequence: str | None = None,
    targets: list[str] | None = None,
    target_classes: list[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | None = "auto",
    precision: str = DEFAULT_PRECISION,
    plot_n: int = 4,
    progress: bool = False,
) -> IsmResult:
    """Saturation mutagenesis of a region (with `fasta`) or a sequence (`danq ism`).

    Writes PREFIX.h5, PREFIX.tsv, PREFIX.heatmap.png and PREFIX.logo.png (see docs/formats.md)
    and returns the result.
    """
    if (region is None) == (sequence is None):
        raise DanQError(
            "give either `region` (with `fasta`) or `sequence`",
            params=("region", "fasta", "sequence"),
        )
    _io.ensure_writable(f"{out_prefix}.h5", "out_prefix")
    predictor = as_predictor(
        model_path, device=device, precision=precision, batch_size=batch_size, rc_average=False
    )
    model = predictor.model
    window = model.window
    if region is not None:
        if fasta is None:
            raise DanQError(
                "`region` needs `fasta` (the genome the model was trained on)",
                params=("region", "fasta"),
            )
        from danq_pipeline.genome import Genome

        inp = region_input(Genome(fasta), region, window)
    else:
        inp = sequence_input(sequence, window)
    index = select_targets(model.targets, targets, target_classes)
    res = saturation_mutagenesis(predictor, inp, target_index=index, progress=progress)
    prefix = Path(out_prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    write_h5(
        res,
        f"{prefix}.h5",
        attrs={"model": str(model_path), "region": region or "", "window_size": window},
    )
    write_tsv(res, f"{prefix}.tsv")
    cols = plot_targets(res, plot_n)
    plot_heatmap(res, f"{prefix}.heatmap.png", cols)
    plot_logo(res, f"{prefix}.logo.png", cols)
    return res
