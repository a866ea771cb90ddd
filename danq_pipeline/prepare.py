"""`prepare`: FASTA + peak files -> DeepSEA-style labelled windows, one HDF5 file per split.

The rules (docs/prepare.md has them in full, with examples):

* Bins of `bin_size` bp tile every selected contig from position 0.
* label(bin, t) = 1 when >= ceil(min_overlap * bin_size) of the bin's bases are covered by
  the union of target t's peaks (after `extend`/`summit`; overlaps merged with bedtools).
* Window = `window` bp centred on its bin. Dropped, in this order, and counted: off the
  contig end, outside the selected regions, crossing a split boundary, overlapping the
  blacklist, N fraction > `max_n_fraction`.
* Kept: bins positive for >= 1 anchor target, plus all-negative bins sampled at
  `negative_ratio` x positives, per contig and split, with a fixed seed.
* Splits: a window entirely inside a valid region -> valid, inside a test region -> test,
  outside both -> train; crossing a boundary -> dropped.

Work streams one contig at a time (uint8 codes, 1 byte per base). Peaks are reduced to
sorted positive-bin indices per target and contig right after reading.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from danq_pipeline import __version__
from danq_pipeline import intervals as iv
from danq_pipeline._io import atomic_path, ensure_writable, file_digest
from danq_pipeline.dataset import WindowsWriter
from danq_pipeline.errors import DanQError, DanQWarning
from danq_pipeline.genome import Genome
from danq_pipeline.regions import Region, parse_regions, region_arrays
from danq_pipeline.targets import TARGET_CLASSES, read_targets_sheet, targets_frame

SPLITS = ("train", "valid", "test")
TABLES = ("targets_summary.tsv", "prepare_stats.tsv")  # written beside the split files
# drop reasons, in the order they are applied (each window is counted under its first reason)
DROP_REASONS = (
    "off_contig_end",
    "outside_selection",
    "crosses_split_boundary",
    "blacklist",
    "n_fraction",
    "not_anchored",
    "negative_not_sampled",
)
_BLOCK = 8192  # windows per HDF5 append
_MERGE_BATCH_ROWS = 2_000_000  # peaks per bedtools merge run (bounds bedtools' and pandas' memory)


@dataclass
class TargetInfo:
    """What reading one target's peaks revealed (for targets_summary.tsv and warnings)."""

    n_peaks: int = 0  # intervals read, before any is dropped
    n_merged: int = 0
    bp_covered: int = 0
    clipped: int = 0  # peaks running past a contig end, cut there
    past_end: int = 0  # peaks entirely past a contig end, dropped (a genome-build mismatch)
    max_width: int = 0  # widest peak as read (after extend/summit)
    max_merged: int = 0  # widest interval after merging


@dataclass
class PrepareResult:
    """Paths written by `prepare_dataset` plus its two tables."""

    paths: dict[str, Path]
    summary: pd.DataFrame
    stats: pd.DataFrame


@dataclass
class _Setup:
    """Validated inputs, built before any output is opened."""

    genome: Genome
    sheet: pd.DataFrame
    contigs: list[str]
    selection: list[Region]
    holdout: dict[str, list[Region]]
    blacklist: dict[str, tuple[np.ndarray, np.ndarray]]
    positives: list[dict[str, np.ndarray]]
    anchors: np.ndarray
    info: list[TargetInfo]
    threshold: int


def prepare_dataset(
    *,
    fasta: str | os.PathLike,
    targets: str | os.PathLike,
    out_dir: str | os.PathLike,
    blacklist: str | os.PathLike | None = None,
    contigs: str | None = None,
    valid: str | None = None,
    test: str | None = None,
    window: int = 1000,
    bin_size: int = 200,
    min_overlap: float = 0.5,
    max_n_fraction: float = 0.0,
    anchor_classes: str | tuple[str, ...] | None = None,
    negative_ratio: float | str = 0.0,
    seed: int = 1,
    genome_name: str | None = None,
    index_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> PrepareResult:
    """Build train.h5, valid.h5, test.h5, targets_summary.tsv and prepare_stats.tsv in `out_dir`.

    `contigs`, `valid` and `test` are comma-separated contigs and/or regions typed as
    ``chrom:start-end`` (1-based inclusive, as samtools/UCSC display them). `negative_ratio`
    is a number >= 0 or ``"all"`` (keep every all-negative bin). See the module
    docstring and docs/prepare.md for the label rules. Every input is checked before any
    output is opened; outputs are written under temporary names and renamed at the end.
    """
    ensure_writable(out_dir, "out_dir", folder=True)
    iv.check_geometry(window, bin_size)
    threshold = iv.overlap_threshold(min_overlap, bin_size)
    negative_ratio = parse_ratio(negative_ratio)
    _check_numbers(max_n_fraction, negative_ratio)
    setup = _setup(
        fasta=fasta,
        targets=targets,
        blacklist=blacklist,
        contigs=contigs,
        valid=valid,
        test=test,
        bin_size=bin_size,
        threshold=threshold,
        anchor_classes=anchor_classes,
        index_dir=index_dir,
        progress=progress,
    )
    params = {
        "fasta": str(fasta),
        "targets": str(targets),
        "blacklist": str(blacklist) if blacklist else None,
        "contigs": contigs,
        "valid": valid,
        "test": test,
        "window": window,
        "bin_size": bin_size,
        "min_overlap": min_overlap,
        "overlap_threshold_bp": threshold,
        "max_n_fraction": max_n_fraction,
        "anchor_classes": _classes(anchor_classes),
        "negative_ratio": "all" if math.isinf(negative_ratio) else negative_ratio,
        "seed": seed,
        "package_version": __version__,
        "coordinates": "0-based half-open; regions typed 1-based inclusive",
        "holdout_0based": {k: [list(r) for r in v] for k, v in setup.holdout.items()},
        "input_md5": input_checksums(setup.sheet, targets, blacklist),
    }
    name = genome_name or Path(fasta).name.split(".")[0]
    return _write_all(
        setup,
        Path(out_dir),
        params=params,
        genome_name=name,
        window=window,
        bin_size=bin_size,
        max_n_fraction=max_n_fraction,
        negative_ratio=negative_ratio,
        seed=seed,
        progress=progress,
    )


def parse_ratio(value: float | str) -> float:
    """negative_ratio: a number >= 0, or 'all' (every all-negative bin; returned as inf)."""
    if isinstance(value, str):
        if value.strip().lower() == "all":
            return math.inf
        try:
            value = float(value)
        except ValueError:
            raise DanQError(
                f"`negative_ratio` must be a number >= 0 or 'all' (got {value!r})",
                params="negative_ratio",
            ) from None
    return float(value)


def _check_numbers(max_n_fraction: float, negative_ratio: float) -> None:
    if not 0 <= max_n_fraction <= 1:
        raise DanQError(
            f"`max_n_fraction` must be in [0, 1] (got {max_n_fraction})", params="max_n_fraction"
        )
    if negative_ratio < 0:
        raise DanQError(
            f"`negative_ratio` must be >= 0 (got {negative_ratio})", params="negative_ratio"
        )


def _classes(anchor_classes: str | tuple[str, ...] | None) -> list[str] | None:
    """Normalise anchor_classes ('TF,DNase' or a tuple) to a list; None = any target."""
    if anchor_classes is None or anchor_classes == "" or anchor_classes == "any":
        return None
    items = anchor_classes.split(",") if isinstance(anchor_classes, str) else list(anchor_classes)
    items = [c.strip() for c in items if c.strip()]
    bad = [c for c in items if c not in TARGET_CLASSES]
    if bad:
        raise DanQError(
            f"`anchor_classes`: unknown class(es) {', '.join(bad)}; use {', '.join(TARGET_CLASSES)}",
            params="anchor_classes",
        )
    return items or None


# ----------------------------------------------------------------------------- inputs


def _setup(
    *,
    fasta,
    targets,
    blacklist,
    contigs,
    valid,
    test,
    bin_size,
    threshold,
    anchor_classes,
    index_dir,
    progress,
) -> _Setup:
    """Open the genome, parse regions, read every peak file and the blacklist (all checks here)."""
    sheet = read_targets_sheet(targets)
    genome = Genome(fasta, index_dir=index_dir)
    lengths = genome.lengths
    selection = parse_regions(contigs, lengths, "contigs") or [
        Region(c, 0, n) for c, n in lengths.items()
    ]
    chosen = {r.chrom for r in selection}
    holdout = {
        "valid": parse_regions(valid, lengths, "valid"),
        "test": parse_regions(test, lengths, "test"),
    }
    _check_disjoint(holdout["valid"], holdout["test"])
    classes = _classes(anchor_classes)
    anchors = np.array([classes is None or c in classes for c in sheet["class"]])
    if not anchors.any():
        raise DanQError(
            f"`anchor_classes` {','.join(classes or [])}: no target in {targets} has such a class",
            params="anchor_classes",
        )
    positives, info = _read_targets(sheet, lengths, bin_size, threshold, progress)
    return _Setup(
        genome=genome,
        sheet=sheet,
        contigs=[c for c in lengths if c in chosen],
        selection=selection,
        holdout=holdout,
        blacklist=_read_blacklist(blacklist, lengths),
        positives=positives,
        anchors=anchors,
        info=info,
        threshold=threshold,
    )


def _check_disjoint(valid: list[Region], test: list[Region]) -> None:
    for a in valid:
        for b in test:
            if a.chrom == b.chrom and a.start < b.end and b.start < a.end:
                raise DanQError(
                    f"`valid` and `test` overlap on {a.chrom} ({a.start + 1}-{a.end} and "
                    f"{b.start + 1}-{b.end}, 1-based); holdout regions must be disjoint",
                    params=("valid", "test"),
                )


def _read_targets(
    sheet: pd.DataFrame, lengths: dict[str, int], bin_size: int, threshold: int, progress: bool
) -> tuple[list[dict[str, np.ndarray]], list[TargetInfo]]:
    """Read, clip, merge (bedtools, in batches of targets) and bin every target's peaks."""
    from tqdm.auto import tqdm

    positives: list[dict[str, np.ndarray]] = []
    infos: list[TargetInfo] = []
    batch: list[tuple[pd.DataFrame, TargetInfo]] = []
    for row in tqdm(
        sheet.to_dict("records"),
        desc="peak files",
        unit="target",
        disable=None if progress else True,
    ):
        label = f"{row['source']} (target {row['id']} {row['name']})"
        peaks = iv.read_peaks(row["file"], extend=row["extend"], summit=row["summit"], label=label)
        iv.check_peak_contigs(peaks.table, lengths, label)
        table, clipped, past_end = _clip(peaks.table, lengths)
        if past_end:
            _warn_past_end(label, peaks.table, past_end, lengths)
        widths = (table["end"] - table["start"]).to_numpy()
        batch.append(
            (
                table,
                TargetInfo(
                    n_peaks=len(peaks.table),
                    clipped=clipped,
                    past_end=past_end,
                    max_width=int(widths.max()) if len(widths) else 0,
                ),
            )
        )
        if sum(len(t) for t, _ in batch) >= _MERGE_BATCH_ROWS or len(batch) == len(sheet) - len(
            infos
        ):
            _merge_batch(batch, positives, infos, bin_size, threshold)
            batch = []
    return positives, infos


def _merge_batch(
    batch: list[tuple[pd.DataFrame, TargetInfo]],
    positives: list,
    infos: list,
    bin_size: int,
    threshold: int,
) -> None:
    """Merge a batch of targets' peaks in one bedtools run; append positive bins and infos."""
    merged_all = iv.merge_many([t for t, _ in batch])
    for (_, info), merged in zip(batch, merged_all, strict=True):
        lengths = (merged["end"] - merged["start"]).to_numpy()
        info.n_merged, info.bp_covered = len(merged), int(lengths.sum())
        info.max_merged = int(lengths.max()) if len(lengths) else 0
        positives.append(iv.positive_bins(merged, bin_size, threshold))
        infos.append(info)


def _clip(table: pd.DataFrame, lengths: dict[str, int]) -> tuple[pd.DataFrame, int, int]:
    """Clip peak ends to contig lengths and drop peaks entirely past them.

    Returns the table, how many peaks were clipped (they straddle a contig end) and how
    many were dropped (they start at or past it).
    """
    size = table["chrom"].map(lengths).to_numpy(dtype=np.int64)
    over = table["end"].to_numpy() > size
    past = table["start"].to_numpy() >= size
    if over.any():
        table = table.copy()
        table["end"] = np.minimum(table["end"].to_numpy(), size)
        table = table[table["end"] > table["start"]]
    return table, int((over & ~past).sum()), int(past.sum())


def _warn_past_end(label: str, table: pd.DataFrame, n: int, lengths: dict[str, int]) -> None:
    """Peaks beyond a contig's end cannot come from this genome: warn with the count and one example."""
    size = table["chrom"].map(lengths).to_numpy(dtype=np.int64)
    first = table.iloc[int(np.argmax(table["start"].to_numpy() >= size))]
    warnings.warn(
        f"{label}: {n} of {len(table)} peaks lie entirely past the end of their contig "
        f"(e.g. {first['chrom']}:{first['start'] + 1}-{first['end']}, but {first['chrom']} has "
        f"{lengths[first['chrom']]:,} bp) and were dropped; the peak file is probably from "
        "another genome build than the FASTA",
        DanQWarning,
        stacklevel=4,
    )


def input_checksums(
    sheet: pd.DataFrame, targets: str | os.PathLike, blacklist: str | os.PathLike | None
) -> dict:
    """MD5 of the targets sheet, the blacklist and every peak file (keyed as the sheet writes
    it), so a windows file says exactly which inputs made it, not only their paths."""
    peaks = {str(row.source): file_digest(row.file, "md5") for row in sheet.itertuples()}
    return {
        "targets": file_digest(targets, "md5"),
        "blacklist": file_digest(blacklist, "md5") if blacklist else None,
        "peaks": peaks,
    }


def _read_blacklist(
    path: str | os.PathLike | None, lengths: dict[str, int]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Merged blacklist intervals per contig (any overlap drops a window)."""
    if path is None:
        return {}
    peaks = iv.read_peaks(path, label=f"{path} (blacklist)")
    iv.check_peak_contigs(peaks.table, lengths, f"{path} (blacklist)")
    merged = iv.merge_peaks(peaks.table)
    return {
        str(c): (g["start"].to_numpy(np.int64), g["end"].to_numpy(np.int64))
        for c, g in merged.groupby("chrom", sort=False)
    }


# ----------------------------------------------------------------------------- per contig


@dataclass
class _Contig:
    """Kept windows of one contig: per split, sorted bin indices; plus drop counts."""

    kept: dict[str, np.ndarray]
    counts: dict[str, int]


def classify_bins(
    *,
    chrom: str,
    length: int,
    codes: np.ndarray,
    setup: _Setup,
    contig_index: int,
    window: int,
    bin_size: int,
    max_n_fraction: float,
    negative_ratio: float,
    seed: int,
) -> _Contig:
    """Apply the drop rules and the anchor/negative sampling to every bin of one contig."""
    n_bins = -(-length // bin_size)
    bins = np.arange(n_bins, dtype=np.int64)
    ws = iv.window_starts(bins, bin_size, window)
    we = ws + window
    alive = np.ones(n_bins, dtype=bool)
    counts = dict.fromkeys(DROP_REASONS, 0)

    def drop(reason: str, mask: np.ndarray) -> None:
        hit = alive & mask
        counts[reason] += int(hit.sum())
        alive[hit] = False

    drop("off_contig_end", (ws < 0) | (we > length))
    sel = region_arrays(setup.selection, chrom)
    drop("outside_selection", iv.covered_bases(*sel, ws, we) < window)
    split = _split_of(chrom, ws, we, window, setup.holdout)
    drop("crosses_split_boundary", split < 0)
    if chrom in setup.blacklist:
        drop("blacklist", iv.any_overlap(*setup.blacklist[chrom], ws, we))
    idx = np.flatnonzero(alive)
    n_count = count_n(codes, ws[idx], window)
    too_many = np.zeros(n_bins, dtype=bool)
    too_many[idx] = n_count > max_n_bases(max_n_fraction, window)
    drop("n_fraction", too_many)
    kept = _sample(
        chrom,
        bins,
        alive,
        split,
        setup,
        counts,
        contig_index=contig_index,
        negative_ratio=negative_ratio,
        seed=seed,
    )
    return _Contig(kept, counts)


def _split_of(
    chrom: str, ws: np.ndarray, we: np.ndarray, window: int, holdout: dict[str, list[Region]]
) -> np.ndarray:
    """Split index per window: 0 train, 1 valid, 2 test, -1 crossing a boundary."""
    split = np.zeros(len(ws), dtype=np.int8)
    outside = np.ones(len(ws), dtype=bool)
    for k, name in ((1, "valid"), (2, "test")):
        cov = iv.covered_bases(*region_arrays(holdout[name], chrom), ws, we)
        split[cov == window] = k
        split[(cov > 0) & (cov < window)] = -1
        outside &= cov == 0
    return split


def _sample(
    chrom: str,
    bins: np.ndarray,
    alive: np.ndarray,
    split: np.ndarray,
    setup: _Setup,
    counts: dict[str, int],
    *,
    contig_index: int,
    negative_ratio: float,
    seed: int,
) -> dict[str, np.ndarray]:
    """Keep anchor-positive bins, plus sampled all-negative bins (per split, fixed seed)."""
    n = len(bins)
    any_pos, anchor_pos = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for t, pos in enumerate(setup.positives):
        pb = pos.get(chrom)
        if pb is None or len(pb) == 0:
            continue
        pb = pb[pb < n]
        any_pos[pb] = True
        if setup.anchors[t]:
            anchor_pos[pb] = True
    counts["not_anchored"] += int((alive & any_pos & ~anchor_pos).sum())
    kept = {}
    for k, name in enumerate(SPLITS):
        in_split = alive & (split == k)
        pos = np.flatnonzero(in_split & anchor_pos)
        neg = np.flatnonzero(in_split & ~any_pos)
        n_neg = (
            len(neg)
            if math.isinf(negative_ratio)
            else min(len(neg), int(round(negative_ratio * len(pos))))
        )
        rng = np.random.default_rng([seed, contig_index, k])
        chosen = np.sort(rng.choice(neg, size=n_neg, replace=False)) if n_neg else neg[:0]
        counts["negative_not_sampled"] += len(neg) - n_neg
        kept[name] = np.union1d(pos, chosen).astype(np.int64)
        counts[f"kept_{name}"] = len(kept[name])
    return kept


def max_n_bases(max_n_fraction: float, window: int) -> int:
    """N bases a window may hold: floor(fraction x window), computed so that 0.41 x 600
    allows 246 (the float product is 245.99999999999997)."""
    return math.floor(max_n_fraction * window + 1e-9)


def count_n(codes: np.ndarray, starts: np.ndarray, width: int, chunk: int = 1 << 24) -> np.ndarray:
    """N bases (code 4) in each window [start, start + width), all inside `codes`.

    Prefix counts are taken chunk by chunk, so memory stays at a few bytes per base of one
    chunk rather than a genome-length cumulative array.
    """
    starts = np.asarray(starts, dtype=np.int64)
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64)
    return _prefix_n(codes, starts + width, chunk) - _prefix_n(codes, starts, chunk)


def _prefix_n(codes: np.ndarray, pos: np.ndarray, chunk: int) -> np.ndarray:
    """Number of N in codes[0:p] for each p in the ascending array `pos`."""
    out = np.zeros(len(pos), dtype=np.int64)
    base = 0
    for a in range(0, len(codes), chunk):
        cum = np.cumsum(codes[a : a + chunk] == 4, dtype=np.int64)
        lo = np.searchsorted(pos, a, side="right")
        hi = np.searchsorted(pos, a + len(cum), side="right")
        out[lo:hi] = base + cum[pos[lo:hi] - a - 1]
        base += int(cum[-1]) if len(cum) else 0
    return out


def label_matrix(
    kept: np.ndarray, chrom: str, positives: list[dict[str, np.ndarray]]
) -> np.ndarray:
    """(len(kept), T) uint8 labels for the sorted bin indices `kept` of one contig."""
    labels = np.zeros((len(kept), len(positives)), dtype=np.uint8)
    if len(kept) == 0:
        return labels
    for t, pos in enumerate(positives):
        pb = pos.get(chrom)
        if pb is None or len(pb) == 0:
            continue
        rows = np.searchsorted(kept, pb)
        ok = rows < len(kept)
        ok[ok] = kept[rows[ok]] == pb[ok]
        labels[rows[ok], t] = 1
    return labels


# ----------------------------------------------------------------------------- outputs


def _write_all(
    setup: _Setup,
    out_dir: Path,
    *,
    params: dict,
    genome_name: str,
    window: int,
    bin_size: int,
    max_n_fraction: float,
    negative_ratio: float,
    seed: int,
    progress: bool,
) -> PrepareResult:
    """Stream contigs into the three split files; then write the summary and stats tables."""
    from tqdm.auto import tqdm

    targets = targets_frame(
        setup.sheet["name"].tolist(),
        setup.sheet["class"].tolist(),
        setup.sheet["source"].tolist(),
        setup.sheet["id"].tolist(),
    )
    paths = {s: out_dir / f"{s}.h5" for s in SPLITS}
    attrs = {"genome": genome_name, "bin_size": bin_size, "params": params}
    n_pos = {s: np.zeros(len(targets), dtype=np.int64) for s in SPLITS}
    stats_rows, md5s = [], {}
    with contextlib.ExitStack() as stack:
        # the tables are renamed last, after the three split files (contexts leave in reverse order)
        tables = {name: stack.enter_context(atomic_path(out_dir / name)) for name in TABLES}
        writers = {
            s: stack.enter_context(
                WindowsWriter(
                    paths[s],
                    window=window,
                    targets=targets,
                    contigs=setup.contigs,
                    split=s,
                    attrs=attrs,
                )
            )
            for s in SPLITS
        }
        for ci, chrom in enumerate(
            tqdm(setup.contigs, desc="contigs", unit="contig", disable=None if progress else True)
        ):
            contig = setup.genome.read_contig(chrom)
            md5s[chrom] = contig.md5
            res = classify_bins(
                chrom=chrom,
                length=len(contig.codes),
                codes=contig.codes,
                setup=setup,
                contig_index=ci,
                window=window,
                bin_size=bin_size,
                max_n_fraction=max_n_fraction,
                negative_ratio=negative_ratio,
                seed=seed,
            )
            for s in SPLITS:
                n_pos[s] += _write_split(
                    writers[s],
                    contig.codes,
                    res.kept[s],
                    chrom,
                    ci,
                    setup,
                    window=window,
                    bin_size=bin_size,
                )
            stats_rows.append(
                {
                    "contig": chrom,
                    "length": len(contig.codes),
                    "bins": -(-len(contig.codes) // bin_size),
                    **res.counts,
                    "n_bases": int((contig.codes == 4).sum()) - contig.n_other,
                    "iupac_bases": contig.n_other,
                }
            )
            del contig, res
        stats = _stats_frame(stats_rows)
        summary = _summary_frame(setup, targets, n_pos, {s: len(writers[s]) for s in SPLITS})
        checksum = _genome_checksum(md5s, setup.genome.lengths)
        for s in SPLITS:
            writers[s].set_attr("genome_checksum", checksum)
            writers[s].set_attr("contig_md5", md5s)
            writers[s].set_attr("counts", {k: len(writers[k]) for k in SPLITS})
            writers[s].set_attr("drop_counts", {k: int(stats[k].iloc[-1]) for k in DROP_REASONS})
        summary.to_csv(tables["targets_summary.tsv"], sep="\t", index=False)
        stats.to_csv(tables["prepare_stats.tsv"], sep="\t", index=False)
    _warn_targets(summary, setup)
    for s in SPLITS:
        if int(stats[f"kept_{s}"].iloc[-1]) == 0:
            hint = (
                f"no --{s} regions were given"
                if s != "train" and not setup.holdout[s]
                else "check the regions and drop counts"
            )
            warnings.warn(
                f"{s}.h5 holds no windows ({hint}; see prepare_stats.tsv)",
                DanQWarning,
                stacklevel=2,
            )
    return PrepareResult(
        paths={
            **paths,
            "summary": out_dir / "targets_summary.tsv",
            "stats": out_dir / "prepare_stats.tsv",
        },
        summary=summary,
        stats=stats,
    )


def _write_split(
    writer: WindowsWriter,
    codes: np.ndarray,
    kept: np.ndarray,
    chrom: str,
    ci: int,
    setup: _Setup,
    *,
    window: int,
    bin_size: int,
) -> np.ndarray:
    """Append one contig's kept windows to a split file in blocks; returns positives per target."""
    labels = label_matrix(kept, chrom, setup.positives)
    starts = iv.window_starts(kept, bin_size, window)
    view = np.lib.stride_tricks.sliding_window_view(codes, window)
    for a in range(0, len(kept), _BLOCK):
        b = min(a + _BLOCK, len(kept))
        writer.append(
            view[starts[a:b]], labels[a:b], np.full(b - a, ci, dtype=np.int32), starts[a:b]
        )
    return labels.sum(axis=0, dtype=np.int64)


def _genome_checksum(md5s: dict[str, str], lengths: dict[str, int]) -> str:
    """MD5 over 'name<TAB>length<TAB>M5' lines of the contigs read (M5 as in `samtools dict`)."""
    import hashlib

    text = "".join(f"{c}\t{lengths[c]}\t{m}\n" for c, m in md5s.items())
    return "md5:" + hashlib.md5(text.encode()).hexdigest()


def _stats_frame(rows: list[dict]) -> pd.DataFrame:
    """Per-contig stats plus a final 'total' row."""
    stats = pd.DataFrame(
        rows,
        columns=[
            "contig",
            "length",
            "bins",
            *DROP_REASONS,
            "kept_train",
            "kept_valid",
            "kept_test",
            "n_bases",
            "iupac_bases",
        ],
    )
    total = stats.drop(columns="contig").sum(numeric_only=True)
    stats.loc[len(stats)] = {"contig": "total", **total.to_dict()}
    return stats.astype({c: np.int64 for c in stats.columns if c != "contig"})


def _summary_frame(
    setup: _Setup, targets: pd.DataFrame, n_pos: dict[str, np.ndarray], n_windows: dict[str, int]
) -> pd.DataFrame:
    """Per-target table: ids, names, peaks, positives and positive fraction per split, a note."""
    out = targets[["id", "name", "class", "source"]].copy()
    out["anchor"] = setup.anchors.astype(int)
    out["peaks"] = [i.n_peaks for i in setup.info]
    out["merged_peaks"] = [i.n_merged for i in setup.info]
    out["bp_covered"] = [i.bp_covered for i in setup.info]
    for s in SPLITS:
        out[f"positives_{s}"] = n_pos[s]
    for s in SPLITS:
        out[f"fraction_{s}"] = np.round(n_pos[s] / max(n_windows[s], 1), 5)
    out["note"] = [
        _note(i, info, {s: int(n_pos[s][i]) for s in SPLITS}, setup)
        for i, info in enumerate(setup.info)
    ]
    return out


def _note(t: int, info: TargetInfo, pos: dict[str, int], setup: _Setup) -> str:
    """Why a target looks wrong, or ''."""
    notes = []
    if sum(pos.values()) == 0:
        notes.append("NO POSITIVES")
        if info.max_width <= 1:
            notes.append(
                "all peaks are 1-bp point sites without extension and can never cover "
                f"{setup.threshold} bp of a bin: set `extend` (e.g. 100) in the targets sheet"
            )
        elif info.max_merged < setup.threshold:
            notes.append(
                f"merged peaks are at most {info.max_merged} bp, shorter than the {setup.threshold} bp "
                "a bin needs covered: set `extend` in the targets sheet or lower --min-overlap"
            )
    else:
        notes += [f"no positives in {s}" for s in SPLITS if pos[s] == 0]
    if info.clipped:
        notes.append(f"{info.clipped} peak(s) clipped at a contig end")
    if info.past_end:
        notes.append(
            f"{info.past_end} peak(s) entirely past a contig end dropped (genome build mismatch?)"
        )
    return "; ".join(notes)


def _warn_targets(summary: pd.DataFrame, setup: _Setup) -> None:
    """Loud DanQWarning for every target that ended with zero positives."""
    for row in summary.itertuples():
        if row.positives_train + row.positives_valid + row.positives_test == 0:
            warnings.warn(
                f"target {row.id} {row.name!r} ({row.source}) has NO positive windows: {row.note}",
                DanQWarning,
                stacklevel=3,
            )


def format_summary(summary: pd.DataFrame) -> str:
    """The per-target table as aligned text (printed to stderr by the CLI)."""
    cols = [
        "id",
        "name",
        "class",
        *(f"positives_{s}" for s in SPLITS),
        *(f"fraction_{s}" for s in SPLITS),
        "note",
    ]
    table = summary[cols].rename(
        columns=lambda c: c.replace("positives_", "pos_").replace("fraction_", "frac_")
    )
    return table.to_string(index=False)
