"""Intervals for `prepare`: peak files, the targets sheet, coverage, bins, labels and splits.

Coordinates are 0-based, half-open everywhere here. User-typed regions
(``chr22:17000000-18000000``, 1-based inclusive) are parsed in `danq_pipeline.regions`.

Interval work (sorting and merging each target's peaks, merging the blacklist) runs through
pybedtools/bedtools. Per-bin coverage is then computed with numpy from the merged,
non-overlapping intervals: each merged interval touches only a few bins, so expanding
(interval, bin) pairs costs O(peaks) instead of O(bins x targets) that a
``bedtools intersect`` of every bin against every target would cost (15.5M hg19 bins x 919
targets); see docs/prepare.md.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from danq_pipeline.errors import DanQError, located
from danq_pipeline.genome import naming_hint, open_text

PEAK_FORMATS = {3: "BED3", 6: "BED6", 9: "broadPeak", 10: "narrowPeak"}
_HEADER_PREFIXES = ("track", "browser", "#")


class Peaks(NamedTuple):
    """One target's peaks after extend/summit, as a table chrom, start, end (0-based half-open)."""

    table: pd.DataFrame
    n_lines: int
    n_columns: int


# ----------------------------------------------------------------------------- coverage


def covered_bases(
    starts: np.ndarray, ends: np.ndarray, qs: np.ndarray, qe: np.ndarray
) -> np.ndarray:
    """Bases of each query [qs, qe) covered by sorted, non-overlapping intervals [starts, ends)."""
    if len(starts) == 0:
        return np.zeros(len(qs), dtype=np.int64)
    cum = np.concatenate([[0], np.cumsum(ends - starts)])

    def upto(x: np.ndarray) -> np.ndarray:
        k = np.searchsorted(ends, x, side="right")  # intervals ending at or before x
        partial = np.where(
            k < len(starts), np.clip(x - starts[np.minimum(k, len(starts) - 1)], 0, None), 0
        )
        return cum[k] + partial

    return upto(np.asarray(qe, dtype=np.int64)) - upto(np.asarray(qs, dtype=np.int64))


def any_overlap(starts: np.ndarray, ends: np.ndarray, qs: np.ndarray, qe: np.ndarray) -> np.ndarray:
    """True where query [qs, qe) overlaps any sorted, non-overlapping interval (>= 1 bp)."""
    return covered_bases(starts, ends, qs, qe) > 0


# ----------------------------------------------------------------------------- peak files


def read_peaks(
    path: str | os.PathLike, *, extend: int = 0, summit: int = -1, label: str | None = None
) -> Peaks:
    """Read a BED3+/BED6/narrowPeak/broadPeak file (plain or gzip, any order).

    `summit` >= 0 uses narrowPeak summits: the 2*summit+1 bp centred on the summit base
    (a summit of -1 in the file falls back to the peak midpoint); any file without exactly
    narrowPeak's 10 columns is refused (column 10 of a BED12 is blockCount, not a summit).
    `extend` then adds that many bp on each side (clipped at 0). Bad lines raise
    ``file:line: reason``.
    """
    path = Path(path)
    label = label or str(path)
    if not path.exists():
        raise DanQError(f"{label}: no such peak file; check the path")
    fast = _read_fast(path, needs_summit=summit >= 0)
    if fast is not None:
        table, n_lines, n_col = fast
    else:  # slow path: finds and names the offending line
        raw = _read_raw(path, label)
        table = _validate_columns(raw, path, label, needs_summit=summit >= 0)
        n_lines, n_col = len(raw), raw.attrs["n_columns"]
    if summit >= 0:
        off = table.pop("summit").to_numpy()
        mid = (table["start"].to_numpy() + table["end"].to_numpy()) // 2
        center = np.where(off >= 0, table["start"].to_numpy() + off, mid)
        table["start"], table["end"] = center - summit, center + summit + 1
    if extend:
        table["start"] -= extend
        table["end"] += extend
    table["start"] = table["start"].clip(lower=0)
    return Peaks(table[["chrom", "start", "end"]].reset_index(drop=True), n_lines, n_col)


def _read_fast(path: Path, needs_summit: bool) -> tuple[pd.DataFrame, int, int] | None:
    """Parse a clean file with pandas' C reader; None when anything looks off (slow path decides)."""
    skip = 0
    with open_text(path) as fh:
        for ln in fh:
            if ln.strip() and not ln.startswith(_HEADER_PREFIXES):
                break
            skip += 1
    try:
        n_col = len(
            pd.read_csv(path, sep="\t", header=None, skiprows=skip, nrows=1, quoting=3).columns
        )
        cols = [0, 1, 2] + ([9] if needs_summit else [])
        df = pd.read_csv(
            path,
            sep="\t",
            header=None,
            skiprows=skip,
            usecols=cols,
            comment=None,
            dtype={0: str},
            skip_blank_lines=False,
            low_memory=False,
            quoting=3,
            engine="c",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, UnicodeDecodeError):
        return None
    if n_col < max(cols) + 1 or df.empty or df.isna().any().any() or (needs_summit and n_col != 10):
        return None
    if not all(pd.api.types.is_integer_dtype(df[c]) for c in cols[1:]):
        return None
    out = pd.DataFrame(
        {"chrom": df[0].str.strip(), "start": df[1].astype(np.int64), "end": df[2].astype(np.int64)}
    )
    if needs_summit:
        out["summit"] = df[9].astype(np.int64)
    if (out["start"] < 0).any() or (out["start"] > out["end"]).any() or (out["chrom"] == "").any():
        return None
    return out, len(df), n_col


def _read_raw(path: Path, label: str) -> pd.DataFrame:
    """Columns 0-2 (and 9) as strings, with the file line number of each row in `line`."""
    with open_text(path) as fh:
        lines = fh.read().splitlines()
    skip = 0
    while skip < len(lines) and (
        not lines[skip].strip() or lines[skip].startswith(_HEADER_PREFIXES)
    ):
        skip += 1
    body = [(i + 1, ln) for i, ln in enumerate(lines[skip:], start=skip) if ln.strip()]
    if not body:
        raise located(
            label,
            None,
            "empty peak file (no intervals)",
            "check the file or drop the target from the sheet",
        )
    fields = [ln.split("\t") for _, ln in body]
    widths = {len(f) for f in fields}
    if len(widths) > 1 or min(widths) < 3:
        _raise_ragged(fields, body, label)
    n_col = widths.pop()
    cols = (
        list(zip(*fields, strict=True))
        if n_col <= 10
        else list(zip(*(f[:10] for f in fields), strict=True))
    )
    raw = pd.DataFrame(
        {"chrom": cols[0], "start": cols[1], "end": cols[2], "line": [i for i, _ in body]}
    )
    if n_col == 10:  # narrowPeak: column 10 is the summit offset
        raw["summit"] = cols[9]
    raw.attrs["n_columns"] = n_col
    return raw


def _raise_ragged(fields: list[list[str]], body: list[tuple[int, str]], label: str) -> None:
    """Name the first line whose column count differs from the first line's (or is < 3)."""
    first = len(fields[0])
    for f, (line, _) in zip(fields, body, strict=True):
        if len(f) < 3:
            raise located(
                label,
                line,
                f"only {len(f)} tab-separated column(s)",
                "BED needs chrom, start, end separated by tabs",
            )
        if len(f) != first:
            raise located(
                label,
                line,
                f"{len(f)} columns where line {body[0][0]} has {first}",
                "every line of a BED file needs the same columns",
            )


def _validate_columns(
    raw: pd.DataFrame, path: Path, label: str, needs_summit: bool
) -> pd.DataFrame:
    """Integer start/end with 0 <= start <= end (and integer summits when asked)."""
    out = pd.DataFrame({"chrom": raw["chrom"].str.strip()})
    for col in ("start", "end") + (("summit",) if needs_summit else ()):
        if col == "summit" and "summit" not in raw:
            raise located(
                label,
                None,
                f"summit requested but the file has {raw.attrs['n_columns']} "
                "columns, not narrowPeak's 10",
                "empty the sheet's summit column for this target",
            )
        values = pd.to_numeric(raw[col].str.strip(), errors="coerce")
        bad = values.isna() | (values != values.round())
        if bad.any():
            i = int(np.argmax(bad.to_numpy()))
            raise located(
                label,
                int(raw["line"].iat[i]),
                f"{col} {raw[col].iat[i]!r} is not an integer",
                "BED columns 2 and 3 are 0-based integer start and end",
            )
        out[col] = values.astype(np.int64)
    for i, problem in (
        (_first(out["start"] < 0), "negative start"),
        (_first(out["start"] > out["end"]), "start > end"),
    ):
        if i is not None:
            raise located(
                label,
                int(raw["line"].iat[i]),
                f"{problem} ({out['start'].iat[i]} > {out['end'].iat[i]})"
                if problem == "start > end"
                else f"{problem} ({out['start'].iat[i]})",
                "fix or remove the line (BED is 0-based, half-open)",
            )
    empty = out["chrom"] == ""
    if empty.any():
        i = _first(empty)
        raise located(
            label, int(raw["line"].iat[i]), "empty chromosome name", "fix or remove the line"
        )
    return out


def _first(mask: pd.Series) -> int | None:
    """Index of the first True, or None."""
    arr = mask.to_numpy()
    return int(np.argmax(arr)) if arr.any() else None


def check_peak_contigs(table: pd.DataFrame, lengths: dict[str, int], label: str) -> None:
    """Raise when peaks sit on contigs the FASTA lacks, naming a few and hinting at chr prefixes."""
    absent = sorted(set(table["chrom"].unique()) - set(lengths))
    if not absent:
        return
    names = list(lengths)
    raise DanQError(
        f"{label}: {len(absent)} contig(s) not in the FASTA: {', '.join(absent[:4])}"
        f"{'...' if len(absent) > 4 else ''} (FASTA has {', '.join(names[:4])}"
        f"{'...' if len(names) > 4 else ''}){naming_hint(absent, names)}"
    )


def merge_peaks(table: pd.DataFrame) -> pd.DataFrame:
    """Merge overlapping/abutting intervals of one table with bedtools (see `merge_many`)."""
    return merge_many([table])[0]


def merge_many(tables: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Merge each table's overlapping/abutting intervals with one `bedtools merge` call.

    The tables are stacked with their index folded into the contig name (``<i>@<chrom>``),
    sorted with numpy (bedtools merge needs sorted input) and merged in a single bedtools
    run, which costs one subprocess per batch of targets instead of two per target.
    Returns one merged table (chrom, start, end; sorted) per input table.
    """
    import pybedtools

    if not any(len(t) for t in tables):
        return [
            pd.DataFrame(
                {
                    "chrom": pd.Series(dtype=str),
                    "start": pd.Series(dtype=np.int64),
                    "end": pd.Series(dtype=np.int64),
                }
            )
            for _ in tables
        ]
    stacked = _stack(tables)
    try:
        merged = _run_bedtools(lambda: pybedtools.BedTool.from_dataframe(stacked).merge())
        out = pd.read_csv(
            merged.fn,
            sep="\t",
            header=None,
            names=["key", "start", "end"],
            dtype={"key": "category", "start": np.int64, "end": np.int64},
        )
    finally:
        pybedtools.cleanup(remove_all=False)
    cats = out["key"].cat.categories
    owner = np.array([int(k.split("@", 1)[0]) for k in cats])[out["key"].cat.codes.to_numpy()]
    chrom = np.array([k.split("@", 1)[1] for k in cats], dtype=object)[
        out["key"].cat.codes.to_numpy()
    ]
    out = pd.DataFrame(
        {
            "chrom": chrom,
            "start": out["start"].to_numpy(),
            "end": out["end"].to_numpy(),
            "owner": owner,
        }
    )
    groups = dict(tuple(out.groupby("owner", sort=False)))
    empty = out.iloc[:0][["chrom", "start", "end"]]
    return [
        groups[i][["chrom", "start", "end"]].reset_index(drop=True) if i in groups else empty
        for i in range(len(tables))
    ]


def _run_bedtools(call):
    """Run a pybedtools call; a missing or failing bedtools becomes a one-line DanQError."""
    import pybedtools

    try:
        return call()
    except FileNotFoundError:
        raise DanQError(
            "bedtools is not on PATH; install it (`apt-get install bedtools` or "
            "`conda install -c bioconda bedtools`)"
        ) from None
    except pybedtools.helpers.BEDToolsError as err:
        raise DanQError(f"bedtools failed: {str(err).strip().splitlines()[-1]}") from None


def _stack(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """One table with key '<i>@<chrom>', sorted by key then start (bedtools' sort order)."""
    parts = [t[["chrom", "start", "end"]].assign(owner=i) for i, t in enumerate(tables) if len(t)]
    df = pd.concat(parts, ignore_index=True)
    chrom = df["chrom"].astype("category")
    n_chrom = len(chrom.cat.categories)
    key_code = df["owner"].to_numpy(np.int64) * n_chrom + chrom.cat.codes.to_numpy()
    order = np.lexsort((df["start"].to_numpy(), key_code))
    used, codes = np.unique(key_code[order], return_inverse=True)
    names = [f"{k // n_chrom}@{chrom.cat.categories[k % n_chrom]}" for k in used]
    return pd.DataFrame(
        {
            "key": pd.Categorical.from_codes(codes, categories=names),
            "start": df["start"].to_numpy()[order],
            "end": df["end"].to_numpy()[order],
        }
    )


# ----------------------------------------------------------------------------- bins and labels


def overlap_threshold(min_overlap: float, bin_size: int) -> int:
    """Bases a bin needs covered to be positive: ceil(min_overlap * bin_size), at least 1."""
    if not 0 < min_overlap <= 1:
        raise DanQError(
            f"`min_overlap` must be in (0, 1] (got {min_overlap})", params="min_overlap"
        )
    return max(1, math.ceil(min_overlap * bin_size - 1e-9))


def bin_coverage(
    starts: np.ndarray, ends: np.ndarray, bin_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Covered bases per touched bin, from sorted non-overlapping intervals on one contig.

    Returns (bins, covered): unique bin indices (int64, ascending) and bases covered in each.
    """
    starts, ends = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    if len(starts) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    first, last = starts // bin_size, (ends - 1) // bin_size
    n = last - first + 1
    owner = np.repeat(np.arange(len(starts)), n)
    bins = np.repeat(first, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    cov = np.minimum(ends[owner], (bins + 1) * bin_size) - np.maximum(
        starts[owner], bins * bin_size
    )
    uniq, inv = np.unique(bins, return_inverse=True)
    return uniq, np.bincount(inv, weights=cov).astype(np.int64)


def positive_bins(merged: pd.DataFrame, bin_size: int, threshold: int) -> dict[str, np.ndarray]:
    """Per contig, the sorted bin indices with >= `threshold` bases covered by `merged`."""
    out: dict[str, np.ndarray] = {}
    for chrom, grp in merged.groupby("chrom", sort=False):
        bins, cov = bin_coverage(grp["start"].to_numpy(), grp["end"].to_numpy(), bin_size)
        out[str(chrom)] = bins[cov >= threshold].astype(np.int32)  # 4 bytes per positive bin
    return out


def window_starts(bins: np.ndarray, bin_size: int, window: int) -> np.ndarray:
    """0-based start of the `window`-bp window centred on each bin."""
    return np.asarray(bins, np.int64) * bin_size - (window - bin_size) // 2


def check_geometry(window: int, bin_size: int) -> None:
    """A window must hold its bin and centre it exactly (equal flanks)."""
    if bin_size < 1 or window < bin_size or (window - bin_size) % 2:
        raise DanQError(
            f"`window` {window} and `bin_size` {bin_size}: need 1 <= bin size <= window with "
            "window - bin size even (equal flanks), e.g. `window` 1000 and `bin_size` 200",
            params=("window", "bin_size"),
        )
