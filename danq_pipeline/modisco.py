"""Motifs discovered from attribution maps: TF-MoDISco (modisco-lite) and JASPAR matching.

`danq modisco` reads one target's maps from a `danq attribute` file, keeps the target's
positive windows (when the file holds labels), runs modisco-lite's `TFMoDISco` on the
hypothetical contributions, trims each pattern to its informative core (modisco-lite's report
rule: the columns whose summed |contribution| is at least ``trim_threshold`` of the largest)
and matches the trimmed PFM to JASPAR CORE vertebrates with the package's TOMTOM statistic
(`motifs.match_motifs`). Outputs: patterns.meme, patterns.tsv, logos/, modisco.h5 (modisco-lite's
own result file, readable by `modisco report`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from danq_pipeline import _io
from danq_pipeline.encode import ALPHABET, one_hot
from danq_pipeline.errors import DanQError
from danq_pipeline.figures import logo_axes, save_png
from danq_pipeline.motifs import (
    PFM,
    best_matches,
    information_content,
    match_motifs,
    reverse_complement_pfm,
)

PATTERN_COLUMNS = (
    "pattern",
    "metacluster",
    "n_seqlets",
    "width",
    "ic",
    "best_match_id",
    "best_match_name",
    "strand",
    "offset",
    "overlap",
    "pearson",
    "pvalue",
    "evalue",
    "significant",
    "second_match_name",
    "second_evalue",
)


class Pattern(NamedTuple):
    """A discovered pattern, trimmed: name (pos_0, neg_1, ...), PFM (4, w), contribution-weight
    matrix (4, w) (mean contribution of the seqlets), and its number of seqlets."""

    name: str
    probs: np.ndarray
    cwm: np.ndarray
    n_seqlets: int


def discover(
    contrib: np.ndarray,
    hypothetical: np.ndarray,
    codes: np.ndarray,
    *,
    window: int = 21,
    flank: int = 10,
    max_seqlets: int = 20000,
    min_metacluster_size: int = 100,
    n_leiden_runs: int = 10,
    trim_threshold: float = 0.3,
    seed_results: list | None = None,
) -> tuple[list[Pattern], tuple]:
    """Run TFMoDISco on maps (N, 4, L) of windows `codes` (N, L); return trimmed patterns and
    modisco-lite's raw (positive, negative) pattern lists (for its own HDF5 writer).

    `contrib` is only checked against the hypothetical maps (modisco recomputes it as one-hot x
    hypothetical). Patterns come positive metacluster first, each in modisco's order (largest first).
    """
    from modiscolite.tfmodisco import TFMoDISco

    x = one_hot(codes).transpose(0, 2, 1).astype(np.float32)  # (N, L, 4): modisco's layout
    hyp = np.ascontiguousarray(hypothetical.transpose(0, 2, 1), dtype=np.float32)
    if contrib.shape != hypothetical.shape:
        raise DanQError(
            "contribution and hypothetical maps differ in shape; re-run `danq attribute`"
        )
    pos, neg = TFMoDISco(
        one_hot=x,
        hypothetical_contribs=hyp,
        sliding_window_size=window,
        flank_size=flank,
        max_seqlets_per_metacluster=max_seqlets,
        min_metacluster_size=min_metacluster_size,
        n_leiden_runs=n_leiden_runs,
        verbose=False,
    )
    out: list[Pattern] = []
    for prefix, found in (("pos", pos), ("neg", neg)):
        for k, p in enumerate(found or []):
            out.append(_trimmed(f"{prefix}_{k}", p, trim_threshold))
    return out, (pos, neg)


def _trimmed(name: str, pattern, trim_threshold: float) -> Pattern:
    """The pattern cut to the columns between the first and last whose summed |contribution| is
    at least `trim_threshold` x the largest (modisco-lite report's rule)."""
    cwm = np.asarray(pattern.contrib_scores, dtype=np.float64)  # (w, 4)
    score = np.abs(cwm).sum(axis=1)
    keep = np.flatnonzero(score >= trim_threshold * score.max())
    a, b = int(keep.min()), int(keep.max()) + 1
    ppm = np.asarray(pattern.sequence, dtype=np.float64)[a:b]
    ppm = ppm / np.maximum(ppm.sum(axis=1, keepdims=True), 1e-12)
    return Pattern(name, ppm.T.copy(), cwm[a:b].T.copy(), len(pattern.seqlets))


def match_patterns(
    patterns: Sequence[Pattern], jaspar: Sequence, *, evalue_max: float = 0.05, min_overlap: int = 5
) -> pd.DataFrame:
    """Best JASPAR match of each pattern (TOMTOM's statistic) plus the runner-up's name and E-value."""
    queries = [PFM(p.name, p.probs, p.n_seqlets) for p in patterns]
    if not queries:
        return pd.DataFrame(columns=list(PATTERN_COLUMNS))
    pairs = match_motifs(queries, jaspar, min_overlap=min_overlap)
    table = best_matches(pairs, queries, evalue_max=evalue_max).rename(
        columns={"n_sites": "n_seqlets"}
    )
    table.insert(0, "pattern", [queries[i].name for i in table.pop("filter")])
    table.insert(1, "metacluster", [p.name.split("_")[0] for p in patterns])
    table.insert(3, "width", [p.probs.shape[1] for p in patterns])
    table["ic"] = [round(information_content(p.probs), 3) for p in patterns]
    second = (
        pairs.sort_values("pvalue")
        .groupby("query", sort=False)
        .nth(1)
        .set_index("query")[["target_name", "evalue"]]
    )
    table["second_match_name"] = table["pattern"].map(second["target_name"]).fillna("")
    table["second_evalue"] = table["pattern"].map(second["evalue"])
    return table[list(PATTERN_COLUMNS)]


# ----------------------------------------------------------------------------- writing


def write_pattern_logos(
    out_dir: str | os.PathLike, patterns: Sequence[Pattern], table: pd.DataFrame, jaspar_by_id: dict
) -> None:
    """logos/<pattern>.png: contribution logo, information logo, and the best JASPAR match below."""
    out = Path(out_dir) / "logos"
    out.mkdir(parents=True, exist_ok=True)
    rows = table.set_index("pattern")
    for p in patterns:
        save_png(
            pattern_figure(
                p, rows.loc[p.name], jaspar_by_id.get(rows.loc[p.name, "best_match_id"])
            ),
            out / f"{p.name}.png",
        )


def pattern_figure(p: Pattern, row: pd.Series, motif) -> Figure:
    """Three panels: the pattern's contribution-weight logo, its sequence logo (bits), and the
    matched JASPAR motif on the pattern's strand at its offset (blank without a match)."""
    import logomaker

    fig = Figure(figsize=(max(6.0, p.probs.shape[1] * 0.4), 5.4))
    axes = fig.subplots(3, 1)
    logomaker.Logo(
        pd.DataFrame(p.cwm.T, columns=list(ALPHABET)), ax=axes[0], color_scheme="classic"
    )
    axes[0].set_title(f"{p.name}: {p.n_seqlets} seqlets, mean contribution", fontsize=9, loc="left")
    logo_axes(axes[1], p.probs, "sequence")
    if motif is None:
        axes[2].set_axis_off()
    else:
        probs = motif.pfm if row["strand"] == "+" else reverse_complement_pfm(motif.pfm)
        mark = "" if row["significant"] else " (not significant)"
        logo_axes(
            axes[2],
            probs,
            f"{row['best_match_name']} {row['best_match_id']} ({row['strand']}) "
            f"E={row['evalue']:.2g}{mark}",
            start=int(row["offset"]),
        )
    return fig


def _write_modisco_h5(path: Path, raw: tuple, window: int) -> None:
    """modisco-lite's own result file (for `modisco report`), atomically."""
    from modiscolite.io import save_hdf5

    with _io.atomic_path(path) as tmp:
        save_hdf5(str(tmp), raw[0], raw[1], window)


# ----------------------------------------------------------------------------- the `modisco` step


def run_modisco(
    attributions: str | os.PathLike | Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    target: str | None = None,
    positives_only: bool = True,
    skip_flagged: bool = False,
    max_windows: int | None = None,
    window: int = 21,
    flank: int = 10,
    max_seqlets: int = 20000,
    min_metacluster_size: int = 100,
    n_leiden_runs: int = 10,
    trim_threshold: float = 0.3,
    evalue_max: float = 0.05,
    min_overlap: int = 5,
    jaspar_release: str | None = None,
) -> pd.DataFrame:
    """TF-MoDISco on one target's attribution maps, matched to JASPAR (`danq modisco`).

    `attributions` is one file or several (e.g. the train and test windows' maps), pooled.
    Uses the windows positive for `target` where a file holds labels (`positives_only`), drops
    maps flagged for completeness with `skip_flagged`, then the first `max_windows`. Writes
    `out_dir`/patterns.meme, patterns.tsv, logos/<pattern>.png and modisco.h5; returns the table.
    """
    from danq_pipeline.jaspar import load_jaspar
    from danq_pipeline.motifs import write_meme

    paths = [attributions] if isinstance(attributions, (str, os.PathLike)) else list(attributions)
    _io.ensure_writable(out_dir, "out_dir", folder=True)
    name, codes, contrib, hyp = _pooled(paths, target, positives_only, skip_flagged, max_windows)
    patterns, raw = discover(
        contrib,
        hyp,
        codes,
        window=window,
        flank=flank,
        max_seqlets=max_seqlets,
        min_metacluster_size=min_metacluster_size,
        n_leiden_runs=n_leiden_runs,
        trim_threshold=trim_threshold,
    )
    jaspar = load_jaspar(release=jaspar_release)
    table = match_patterns(patterns, jaspar, evalue_max=evalue_max, min_overlap=min_overlap)
    table.insert(1, "target", name)
    table["n_windows"] = len(codes)
    with _io.output_folder(out_dir) as out:
        write_meme(
            out / "patterns.meme",
            [PFM(p.name, p.probs, p.n_seqlets, _alt(table, p.name)) for p in patterns],
        )
        _io.write_tsv(table, out / "patterns.tsv", float_format="%.4g")
        write_pattern_logos(out, patterns, table, {m.matrix_id: m for m in jaspar})
        _write_modisco_h5(out / "modisco.h5", raw, window)
    return table


def _pooled(
    paths: list,
    target: str | None,
    positives_only: bool,
    skip_flagged: bool,
    max_windows: int | None,
) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """One target's kept windows from every file: (target name, codes, contrib, hypothetical)."""
    from danq_pipeline.attribute import read_attributions

    parts, name = [], target
    for path in paths:
        att = read_attributions(path, name)
        name = att.target
        keep = np.ones(len(att.codes), dtype=bool)
        if positives_only and att.labels is not None:
            keep &= att.labels > 0
        if skip_flagged:
            keep &= ~att.flagged
        parts.append((att.codes[keep], att.contrib[keep], att.hypothetical[keep]))
    codes, contrib, hyp = (np.concatenate([p[i] for p in parts]) for i in range(3))
    if max_windows:
        codes, contrib, hyp = codes[:max_windows], contrib[:max_windows], hyp[:max_windows]
    if len(codes) < 2:
        raise DanQError(
            f"{paths[0]}: only {len(codes)} windows to search for target {name}; "
            "attribute more (positive) windows"
        )
    return str(name), codes, contrib, hyp


def _alt(table: pd.DataFrame, name: str) -> str:
    """The MEME alternate name of a pattern: its best significant JASPAR match, if any."""
    row = table[table["pattern"] == name].iloc[0]
    return str(row["best_match_name"]) if row["significant"] else ""
