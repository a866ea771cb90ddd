"""Predictions for any input: sequences, genomic regions (tiled), and genome tracks (`danq predict`).

The model always runs through `danq_pipeline.predictor.Predictor` (batching, device, precision,
strand averaging); this module turns user inputs into base-code windows, in chunks of
`CHUNK` windows so memory stays bounded, and writes the results.

Windows and tiles (0-based, half-open coordinates; L = the model's window, s = `stride`):

* A region of length <= L gets one window centred on it, as Selene does:
  ``window_start = start + (end - start) // 2 - L // 2``.
* A longer region gets n = ceil((length - L) / s) + 1 windows, s bp apart: the fewest that
  cover every base of the region, placed as a group centred on the region the same way
  (``first = start + (end - start) // 2 - span // 2`` with ``span = (n - 1) * s + L``), so the
  group overhangs each end by less than s bp. Each window is one output row (a *tile*),
  carrying its region's chrom, start, end and name.
* Windows that run past a contig end are refused unless `pad`, which fills the missing
  bases with N (all-zero one-hot) and records how many in ``padded_bp``.
* Tracks (bigWig): each tile's value covers the s bp at its window's centre,
  ``[window_start + (L - s) // 2, window_start + (L - s) // 2 + s)`` (for L = 1000, s = 200:
  bases 400-599 of the window, DeepSEA's labelled bin). Tiles of one region are s bp apart,
  so their bins abut, from (L - s) // 2 bp (or less) inside the region's start to as far
  inside its end; where input regions overlap, the earlier bin keeps the shared bases.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from danq_pipeline import __version__
from danq_pipeline._io import atomic_path, ensure_writable, file_digest, output_folder
from danq_pipeline.encode import N_CODE, codes_from_one_hot, encode
from danq_pipeline.errors import DanQError, located
from danq_pipeline.genome import Genome, open_text
from danq_pipeline.model import TrainedModel
from danq_pipeline.predictor import DEFAULT_BATCH_SIZE, DEFAULT_PRECISION, Predictor, as_predictor
from danq_pipeline.progress import Progress
from danq_pipeline.targets import select_targets, write_targets_h5

DEFAULT_STRIDE = 200  # bp between tiles of a long region, and a track's bin: DeepSEA's 200-bp bin
# (stride=None in the functions below: this, or the window when the model's is shorter)
CHUNK = 10_000  # windows fetched and handed to the predictor at a time (bounds memory)
FORMAT = "danq-predictions-regions"
FORMAT_VERSION = 1
TILE_COLUMNS = ("chrom", "start", "end", "name", "window_start", "window_end", "padded_bp")
_STR = h5py.string_dtype("utf-8")
_HEADER_PREFIXES = ("track", "browser", "#")

ModelLike = str | os.PathLike | TrainedModel | Predictor


def _predictor(
    model: ModelLike,
    device: str | None,
    precision: str,
    batch_size: int,
    rc_average: bool,
    threads: int | None,
) -> Predictor:
    """The one Predictor a call runs (a Predictor passed in is used as it is)."""
    return as_predictor(
        model,
        device=device,
        precision=precision,
        batch_size=batch_size,
        rc_average=rc_average,
        threads=threads,
    )


# ----------------------------------------------------------------------------- sequences


def read_fasta_records(path: str | os.PathLike) -> Iterator[tuple[str, str]]:
    """Yield (name, sequence) per record of a plain or gzipped FASTA; name = the header's first word."""
    path = Path(path)
    if not path.exists():
        raise DanQError(f"{path}: no such FASTA file; check the path")
    name, parts, line_no = None, [], 0
    with open_text(path) as fh:
        for line_no, line in enumerate(fh, 1):
            line = line.strip()
            if line.startswith(">"):
                if name is not None:
                    yield name, "".join(parts)
                name, parts = (line[1:].split() or [f"seq{line_no}"])[0], []
            elif line and name is None:
                raise located(
                    path,
                    line_no,
                    "sequence before the first '>' header",
                    "a FASTA record starts with >name",
                )
            elif line:
                parts.append(line)
    if name is None:
        raise located(path, None, "no FASTA records", "give a FASTA file with >name header lines")
    yield name, "".join(parts)


def fit_to_window(codes: np.ndarray, window: int, pad: bool, label: str) -> tuple[np.ndarray, int]:
    """Codes of one sequence as exactly `window` bases, and how many N were added.

    Shorter sequences are centred in N when `pad` (left flank ``(window - n) // 2``), else
    refused; longer ones are always refused (`predict_regions` tiles long regions).
    """
    n = len(codes)
    if n == window:
        return codes, 0
    if n > window:
        raise DanQError(
            f"{label}: {n} bp, longer than the model's {window}-bp window; give {window}-bp "
            "sequences, or genomic regions (predict_regions / danq predict --bed), which are tiled"
        )
    if not pad:
        raise DanQError(
            f"{label}: {n} bp but the model reads {window}-bp windows; set `pad` to centre it in N, "
            f"or give {window}-bp sequences",
            params="pad",
        )
    out = np.full(window, N_CODE, dtype=np.uint8)
    left = (window - n) // 2
    out[left : left + n] = codes
    return out, window - n


def sequence_codes(
    sequences: Any, window: int, pad: bool = False
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Codes (N, window) uint8, names and N-padding per sequence of any accepted input.

    Accepts a list of DNA strings, a codes array (N, L) uint8, a one-hot array (N, 4, L)
    (A, C, G, T channels; all-zero columns are N) or a FASTA path (str or Path).
    """
    if isinstance(sequences, (str, os.PathLike)):
        if (
            isinstance(sequences, str)
            and not Path(sequences).exists()
            and re.fullmatch(r"[ACGTNacgtn]+", sequences)
        ):
            raise DanQError(
                "sequences: a single DNA string was given where a FASTA path or a list is "
                "expected; pass [sequence]"
            )
        records = list(read_fasta_records(sequences))
        names, items = [n for n, _ in records], [encode(s) for _, s in records]
    elif isinstance(sequences, np.ndarray):
        if sequences.ndim == 3 and sequences.shape[1] == 4:
            arr = codes_from_one_hot(sequences)
        elif sequences.ndim == 2 and sequences.dtype == np.uint8:
            arr = sequences
        else:
            raise DanQError(
                f"sequences: an array of shape {sequences.shape} ({sequences.dtype}); give codes "
                "(N, L) uint8 or one-hot (N, 4, L)"
            )
        if arr.size and arr.max() > N_CODE:
            raise DanQError(
                f"sequences: codes above {N_CODE}; codes are A=0 C=1 G=2 T=3 N=4 (encode.encode)"
            )
        names, items = [str(i) for i in range(len(arr))], list(arr)
    else:
        items = list(sequences)
        if not all(isinstance(s, str) for s in items):
            raise DanQError(
                "sequences: give a list of DNA strings, a codes or one-hot array, or a FASTA path"
            )
        names, items = [str(i) for i in range(len(items))], [encode(s) for s in items]
    if not items:
        return np.zeros((0, window), np.uint8), [], np.zeros(0, np.int64)
    fitted = [
        fit_to_window(c, window, pad, f"sequence {names[i]!r} (#{i + 1})")
        for i, c in enumerate(items)
    ]
    return (
        np.stack([c for c, _ in fitted]).astype(np.uint8),
        names,
        np.array([p for _, p in fitted], dtype=np.int64),
    )


def predict_sequences(
    model: ModelLike,
    sequences: Any,
    *,
    as_frame: bool = False,
    pad: bool = False,
    device: str | None = "auto",
    precision: str = DEFAULT_PRECISION,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rc_average: bool = True,
    threads: int | None = None,
) -> np.ndarray | pd.DataFrame:
    """Probabilities (N, T) float32 of N sequences of the model's window length.

    Parameters
    ----------
    model : checkpoint path, TrainedModel (load_model) or Predictor
    sequences : list of str, codes (N, L) uint8, one-hot (N, 4, L), or a FASTA path
    as_frame : bool
        Return a DataFrame (index: FASTA names or 0..N-1; columns: target names). Default is False.
    pad : bool
        Centre sequences shorter than the window in N (else they are an error). Longer ones
        are always an error: use `predict_regions`, which tiles. Default is False.
    device, precision, batch_size, rc_average, threads
        How the model runs (`predict.as_predictor`); probabilities average both strands by default.
    """
    predictor = _predictor(model, device, precision, batch_size, rc_average, threads)
    codes, names, _ = sequence_codes(sequences, predictor.window, pad)
    probs = (
        np.concatenate(
            [predictor.probabilities(codes[a : a + CHUNK]) for a in range(0, len(codes), CHUNK)]
        )
        if len(codes)
        else np.zeros((0, predictor.n_targets), np.float32)
    )
    if not as_frame:
        return probs
    return pd.DataFrame(
        probs, index=pd.Index(names, name="name"), columns=target_columns(predictor.model.targets)
    )


def target_columns(targets: pd.DataFrame, idx: np.ndarray | None = None) -> list[str]:
    """Column labels for targets `idx` (all by default): the names, ``name#id`` where a name repeats."""
    names = targets["name"].astype(str).to_numpy()
    ids = targets["id"].astype(int).to_numpy()
    idx = np.arange(len(targets)) if idx is None else np.asarray(idx)
    counts = pd.Series(names).value_counts()
    return [f"{names[i]}#{ids[i]}" if counts[names[i]] > 1 else str(names[i]) for i in idx]


# ----------------------------------------------------------------------------- regions


def read_regions(path: str | os.PathLike) -> pd.DataFrame:
    """Read a BED file (plain or gzip) of regions: chrom, start, end [, name, ...].

    Returns columns chrom, start, end, name, line (1-based line in the file). A missing name
    becomes ``chrom:start-end`` in BED coordinates (as ``bedtools getfasta`` names them).
    Header lines (track, browser, #) and blank lines are skipped; a bad line is an error
    naming file:line and the fix.
    """
    path = Path(path)
    if not path.exists():
        raise DanQError(f"{path}: no such BED file; check the path")
    rows = []
    with open_text(path) as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip() or line.startswith(_HEADER_PREFIXES):
                continue
            f = line.rstrip("\n\r").split("\t")
            if len(f) < 3:
                raise located(
                    path,
                    line_no,
                    f"{len(f)} tab-separated column(s)",
                    "a BED line needs chrom, start, end separated by tabs",
                )
            chrom, start, end = f[0].strip(), f[1].strip(), f[2].strip()
            if (
                not chrom
                or not re.fullmatch(r"\d+", start)
                or not re.fullmatch(r"\d+", end)
                or int(start) > int(end)
            ):
                raise located(
                    path,
                    line_no,
                    f"not a region: {chrom!r} {start!r} {end!r}",
                    "columns 2 and 3 are 0-based integer start <= end (BED)",
                )
            name = f[3].strip() if len(f) > 3 and f[3].strip() else f"{chrom}:{start}-{end}"
            rows.append((chrom, int(start), int(end), name, line_no))
    if not rows:
        raise located(
            path, None, "no regions", "give one region per line: chrom, start, end [, name]"
        )
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "name", "line"])


def _regions_frame(bed: str | os.PathLike | pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Regions table (chrom, start, end, name, line) and a label for messages."""
    if isinstance(bed, pd.DataFrame):
        missing = [c for c in ("chrom", "start", "end") if c not in bed]
        if missing:
            raise DanQError(
                f"regions: the table lacks column(s) {', '.join(missing)}; give chrom, start, end [, name]"
            )
        table = bed.reset_index(drop=True).copy()
        if "name" not in table:
            table["name"] = [
                f"{c}:{s}-{e}"
                for c, s, e in zip(table["chrom"], table["start"], table["end"], strict=True)
            ]
        table["line"] = np.arange(1, len(table) + 1)
        if (table["start"] < 0).any() or (table["start"] > table["end"]).any():
            raise DanQError("regions: every row needs 0 <= start <= end (0-based, half-open)")
        return table[["chrom", "start", "end", "name", "line"]], "regions (row)"
    return read_regions(bed), str(bed)


def tile_counts(lengths: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Windows per region: 1 up to the window length, else ceil((length - window) / stride) + 1."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.where(lengths <= window, 1, -((window - lengths) // stride) + 1).astype(np.int64)


def check_stride(stride: int | None, window: int) -> int:
    """`stride` when 1 <= stride <= window, else a one-line error; None: `DEFAULT_STRIDE`, or the
    window when the model's is shorter."""
    if stride is None:
        return min(DEFAULT_STRIDE, window)
    if not 1 <= int(stride) <= window:
        raise DanQError(
            f"`stride` {stride}: must be between 1 and the model's window ({window} bp); "
            f"default {DEFAULT_STRIDE}",
            params="stride",
        )
    return int(stride)


def iter_tiles(
    regions: pd.DataFrame, window: int, stride: int, chunk: int = CHUNK
) -> Iterator[pd.DataFrame]:
    """Tables of at most `chunk` tiles, in region order: region (row number), chrom, start, end,
    name, window_start, window_end (see the module docstring for the placement)."""
    starts, ends = regions["start"].to_numpy(np.int64), regions["end"].to_numpy(np.int64)
    n = tile_counts(ends - starts, window, stride)
    span = (n - 1) * stride + window
    first = starts + (ends - starts) // 2 - span // 2
    last = np.cumsum(n)
    offset = last - n
    for a in range(0, int(last[-1]) if len(last) else 0, chunk):
        g = np.arange(a, min(a + chunk, int(last[-1])))
        r = np.searchsorted(last, g, side="right")
        ws = first[r] + (g - offset[r]) * stride
        yield pd.DataFrame(
            {
                "region": r,
                "chrom": regions["chrom"].to_numpy()[r],
                "start": starts[r],
                "end": ends[r],
                "name": regions["name"].to_numpy()[r],
                "window_start": ws,
                "window_end": ws + window,
            }
        )


def tile_codes(
    genome: Genome, tiles: pd.DataFrame, window: int, pad: bool, regions: pd.DataFrame, label: str
) -> tuple[np.ndarray, np.ndarray]:
    """Base codes (n, window) of a tile table and the N-padded bases per tile.

    One FASTA read per region in the chunk (tiles of a region are slices of it). A window
    past a contig end is an error naming the region's line unless `pad`.
    """
    length = tiles["chrom"].map(genome.lengths)
    if length.isna().any():
        i = int(np.argmax(length.isna().to_numpy()))
        genome.check_contig(
            tiles["chrom"].iat[i], f"{label}:{regions['line'].iat[tiles['region'].iat[i]]}"
        )
    ws, length = tiles["window_start"].to_numpy(), length.to_numpy(np.int64)
    padded = np.maximum(0, -ws) + np.maximum(0, ws + window - length)
    if not pad and padded.any():
        i = int(np.argmax(padded > 0))
        row = tiles.iloc[i]
        raise DanQError(
            f"{label}:{regions['line'].iat[row['region']]}: the {window}-bp window "
            f"{row['chrom']}:{row['window_start']}-{row['window_end']} runs past the contig end "
            f"({row['chrom']} is {length[i]:,} bp); set `pad` to fill with N, or move the region",
            params="pad",
        )
    codes = np.empty((len(tiles), window), dtype=np.uint8)
    region = tiles["region"].to_numpy()
    cuts = np.flatnonzero(np.diff(region)) + 1
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(tiles)], strict=True):
        span = genome.fetch_codes(
            tiles["chrom"].iat[a], int(ws[a]), int(ws[b - 1]) + window, pad=True
        )
        codes[a:b] = np.lib.stride_tricks.sliding_window_view(span, window)[ws[a:b] - ws[a]]
    return codes, padded


def iter_region_predictions(
    predictor: Predictor,
    genome: Genome,
    regions: pd.DataFrame,
    *,
    stride: int,
    pad: bool,
    label: str,
    chunk: int = CHUNK,
    progress: bool = False,
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Yield (tiles, probabilities (n, T) float32) for every tile of `regions`, `chunk` at a time."""
    window = predictor.window
    stride = check_stride(stride, window)
    total = int(tile_counts((regions["end"] - regions["start"]).to_numpy(), window, stride).sum())
    bar = Progress(total, desc="predict", unit="windows", enabled=progress)
    for tiles in iter_tiles(regions, window, stride, chunk):
        codes, padded = tile_codes(genome, tiles, window, pad, regions, label)
        tiles["padded_bp"] = padded
        probs = predictor.probabilities(codes)
        bar.update(len(tiles))
        yield tiles, probs
    bar.close()  # not on errors: a "done" line would mislead


def predict_regions(
    model: ModelLike,
    fasta: str | os.PathLike | Genome,
    bed: str | os.PathLike | pd.DataFrame,
    *,
    stride: int | None = None,
    pad: bool = False,
    device: str | None = "auto",
    precision: str = DEFAULT_PRECISION,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rc_average: bool = True,
    threads: int | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Probabilities of windows centred on regions, long regions tiled `stride` bp apart.

    Returns one row per window (tile): region (row number in the BED), chrom, start, end,
    name (the region's), window_start, window_end, padded_bp, then one float32 column per
    target. Tile placement and contig ends: see the module docstring. Holds every row in
    memory; `danq predict` (`write_predictions`) streams to files instead.
    """
    predictor = _predictor(model, device, precision, batch_size, rc_average, threads)
    genome = fasta if isinstance(fasta, Genome) else Genome(fasta)
    regions, label = _regions_frame(bed)
    columns = target_columns(predictor.model.targets)
    parts = [
        pd.concat([tiles.reset_index(drop=True), pd.DataFrame(p, columns=columns)], axis=1)
        for tiles, p in iter_region_predictions(
            predictor, genome, regions, stride=stride, pad=pad, label=label, progress=progress
        )
    ]
    return pd.concat(parts, ignore_index=True)


# ----------------------------------------------------------------------------- tracks


def track_bins(tiles: pd.DataFrame, window: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each tile's bigWig bin: the `stride` bp at its window's centre."""
    start = tiles["window_start"].to_numpy(np.int64) + (window - stride) // 2
    return start, start + stride


class TrackWriter:
    """Collect per-tile values of some targets and write one bigWig per target (pyBigWig).

    Values are held in memory (4 bytes per tile and target) because bigWig entries must be
    added in genome order while tiles come in the input's order. On `write`, bins are sorted
    by contig (the FASTA's order) and start, clipped to the contig, and a bin overlapping the
    previous one starts where that one ends (dropped if nothing is left).
    """

    def __init__(self, lengths: dict[str, int], window: int, stride: int) -> None:
        self.lengths, self.window, self.stride = lengths, window, stride
        self._chrom: list[np.ndarray] = []
        self._start: list[np.ndarray] = []
        self._values: list[np.ndarray] = []

    def add(self, tiles: pd.DataFrame, values: np.ndarray) -> None:
        """Add tiles and their values (n, k) for the k tracked targets."""
        order = {c: i for i, c in enumerate(self.lengths)}
        self._chrom.append(tiles["chrom"].map(order).to_numpy(np.int64))
        self._start.append(track_bins(tiles, self.window, self.stride)[0])
        self._values.append(np.asarray(values, dtype=np.float32))

    def write(self, paths: list[Path]) -> None:
        """Write bigWig k to paths[k] (files are written as given: the caller makes them atomic)."""
        import pyBigWig

        chrom, start, values = self._sorted()
        names = list(self.lengths)
        for k, path in enumerate(paths):
            bw = pyBigWig.open(str(path), "w")
            try:
                bw.addHeader([(c, int(n)) for c, n in self.lengths.items()], maxZooms=10)
                for c in np.unique(chrom):
                    sel = chrom == c
                    s, e = start[sel], start[sel] + self.stride
                    s, e = np.maximum(s, 0), np.minimum(e, self.lengths[names[c]])
                    s = (
                        np.maximum(s, np.r_[0, e[:-1]]) if len(e) else s
                    )  # overlapping regions: earlier bin wins
                    keep = e > s
                    if keep.any():
                        bw.addEntries(
                            [names[c]] * int(keep.sum()),
                            s[keep].tolist(),
                            ends=e[keep].tolist(),
                            values=values[sel, k][keep].astype(float).tolist(),
                        )
            finally:
                bw.close()

    def _sorted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All bins (contig index, start, values) sorted by contig then start (stable)."""
        if not self._chrom:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        chrom, start = np.concatenate(self._chrom), np.concatenate(self._start)
        order = np.lexsort((start, chrom))
        return chrom[order], start[order], np.concatenate(self._values)[order]


def track_paths(out_dir: str | os.PathLike, targets: pd.DataFrame, idx: np.ndarray) -> list[Path]:
    """``DIR/<target>.bw`` per selected target (unsafe characters as _, ``name#id`` -> ``name_id``)."""
    return [
        Path(out_dir) / (re.sub(r"[^0-9A-Za-z_.-]", "_", col) + ".bw")
        for col in target_columns(targets, idx)
    ]


def write_tracks(
    model: ModelLike,
    fasta: str | os.PathLike,
    bed: str | os.PathLike | pd.DataFrame,
    out_dir: str | os.PathLike,
    *,
    targets: list[str] | str | None = None,
    target_class: list[str] | str | None = None,
    stride: int | None = None,
    pad: bool = False,
    device: str | None = "auto",
    precision: str = DEFAULT_PRECISION,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rc_average: bool = True,
    threads: int | None = None,
    progress: bool = True,
) -> list[Path]:
    """One bigWig per selected target over the regions, a value every `stride` bp.

    Each window's probability covers the `stride` bp at its centre (module docstring);
    regions longer than the window are tiled, so each gets a continuous track from its first
    window's bin to its last's, up to (window - stride) // 2 bp inside its ends (widen the
    regions by that much to cover them whole). The header is the FASTA's contigs and lengths.
    Returns the paths.
    """
    written = write_predictions(
        model,
        None,
        fasta=fasta,
        bed=bed,
        bigwig=out_dir,
        targets=targets,
        target_class=target_class,
        stride=stride,
        pad=pad,
        device=device,
        precision=precision,
        batch_size=batch_size,
        rc_average=rc_average,
        threads=threads,
        progress=progress,
    )
    return written["bigwig"]


# ----------------------------------------------------------------------------- files


class _TableOut:
    """PREFIX.tsv (selected targets) and PREFIX.h5 (all targets), appended chunk by chunk."""

    def __init__(
        self,
        tsv: Path,
        h5: Path,
        targets: pd.DataFrame,
        selected: np.ndarray,
        kind: str,
        contigs: list[str],
        attrs: dict[str, Any],
    ) -> None:
        self.tsv, self.selected, self.kind = tsv, selected, kind
        self.columns = target_columns(targets, selected)
        self.contig_index = {c: i for i, c in enumerate(contigs)}
        self.head = list(TILE_COLUMNS) if kind == "regions" else ["name", "length", "padded_bp"]
        self._fh = open(tsv, "w", encoding="utf-8")  # noqa: SIM115 - stays open across chunks; closed in close()
        self._fh.write("\t".join([*self.head, *self.columns]) + "\n")
        self.h5 = h5py.File(h5, "w")
        t = len(targets)
        self.h5.create_dataset(
            "probabilities",
            (0, t),
            maxshape=(None, t),
            dtype="f4",
            chunks=(max(1, min(CHUNK, 4096)), max(1, min(t, 64))),
        )
        for col, dt in _row_fields(kind):
            self.h5.create_dataset(f"rows/{col}", (0,), maxshape=(None,), dtype=dt, chunks=(4096,))
        write_targets_h5(self.h5, targets)
        self.h5.create_dataset("contigs", data=np.array(contigs, dtype=object), dtype=_STR)
        for key, value in {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "package_version": __version__,
            "input_kind": kind,
            **attrs,
        }.items():
            self.h5.attrs[key] = "" if value is None else value

    def add(self, rows: pd.DataFrame, probs: np.ndarray) -> None:
        """Append rows (tile or sequence table) and their probabilities (n, T)."""
        self._fh.write(_tsv_lines(rows[self.head], probs[:, self.selected]))
        n0 = self.h5["probabilities"].shape[0]
        _append(self.h5["probabilities"], probs.astype(np.float32), n0)
        for col, _ in _row_fields(self.kind):
            values = (
                rows["chrom"].map(self.contig_index).to_numpy()
                if col == "chrom"
                else rows[col].to_numpy()
            )
            _append(self.h5[f"rows/{col}"], values, n0)

    def close(self) -> None:
        """Close both files."""
        self._fh.close()
        self.h5.close()


def _tsv_lines(rows: pd.DataFrame, values: np.ndarray) -> str:
    """TSV lines of `rows` followed by `values` as %.6g (4x faster than DataFrame.to_csv's
    float_format for hundreds of target columns)."""
    fmt = "%.6g".__mod__
    text = (rows[c].astype(str).tolist() for c in rows.columns)
    return "".join(
        "\t".join((*head, *map(fmt, vals))) + "\n"
        for head, vals in zip(zip(*text, strict=True), values.tolist(), strict=True)
    )


def _row_fields(kind: str) -> list[tuple[str, Any]]:
    """HDF5 /rows datasets of each input kind (docs/formats.md)."""
    if kind == "regions":
        return [
            ("region", "i8"),
            ("chrom", "i4"),
            ("start", "i8"),
            ("end", "i8"),
            ("name", _STR),
            ("window_start", "i8"),
            ("window_end", "i8"),
            ("padded_bp", "i4"),
        ]
    return [("name", _STR), ("length", "i8"), ("padded_bp", "i4")]


def _append(ds: h5py.Dataset, values: np.ndarray, at: int) -> None:
    """Write `values` as rows [at, at + len) of a resizable dataset."""
    ds.resize(at + len(values), axis=0)
    if ds.dtype.kind == "O":
        values = np.array([str(v) for v in values], dtype=object)
    ds[at : at + len(values)] = values


def _sequence_chunks(
    path: str | os.PathLike, window: int, pad: bool, chunk: int = CHUNK
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """(rows: name, length, padded_bp; codes) for the records of a FASTA, `chunk` at a time."""
    names, lengths, codes, padded = [], [], [], []
    for i, (name, seq) in enumerate(read_fasta_records(path)):
        c, p = fit_to_window(encode(seq), window, pad, f"{path}: sequence {name!r} (#{i + 1})")
        names.append(name), lengths.append(len(seq)), codes.append(c), padded.append(p)
        if len(codes) == chunk:
            yield (
                pd.DataFrame({"name": names, "length": lengths, "padded_bp": padded}),
                np.stack(codes),
            )
            names, lengths, codes, padded = [], [], [], []
    if codes:
        yield pd.DataFrame({"name": names, "length": lengths, "padded_bp": padded}), np.stack(codes)


def _sequence_predictions(
    predictor: Predictor, path: str | os.PathLike, pad: bool, progress: bool
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Yield (rows, probabilities) for the records of a FASTA of sequences, `CHUNK` at a time."""
    bar = Progress(None, desc="predict", unit="sequences", enabled=progress)
    for rows, codes in _sequence_chunks(path, predictor.window, pad):
        probs = predictor.probabilities(codes)
        bar.update(len(rows))
        yield rows, probs
    bar.close()  # not on errors: a "done" line would mislead


def write_predictions(
    model: ModelLike,
    out_prefix: str | os.PathLike | None,
    *,
    fasta: str | os.PathLike | None = None,
    bed: str | os.PathLike | pd.DataFrame | None = None,
    sequences: str | os.PathLike | None = None,
    bigwig: str | os.PathLike | None = None,
    targets: list[str] | str | None = None,
    target_class: list[str] | str | None = None,
    stride: int | None = None,
    pad: bool = False,
    device: str | None = "auto",
    precision: str = DEFAULT_PRECISION,
    batch_size: int = DEFAULT_BATCH_SIZE,
    rc_average: bool = True,
    threads: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """`danq predict`: stream predictions of regions (`fasta` + `bed`) or of `sequences` (a FASTA) to
    PREFIX.tsv (selected targets) and PREFIX.h5 (all targets), and with `bigwig` (regions
    only) one bigWig per selected target in that folder. Formats: docs/formats.md.

    Every file appears complete under its final name or not at all. Returns the row count
    and the paths written.
    """
    if (bed is None) == (sequences is None):
        raise DanQError(
            "give either regions (`bed`, with `fasta`) or `sequences`, not both and not neither",
            params=("bed", "fasta", "sequences"),
        )
    if bed is not None and fasta is None:
        raise DanQError(
            "`bed` needs `fasta`, the genome the regions refer to", params=("bed", "fasta")
        )
    if sequences is not None and bigwig is not None:
        raise DanQError(
            "`bigwig` needs genomic regions (`bed`), not `sequences`",
            params=("bigwig", "bed", "sequences"),
        )
    if out_prefix is None and bigwig is None:
        raise DanQError(
            "nothing to write: give `out_prefix` and/or `bigwig`", params=("out_prefix", "bigwig")
        )
    predictor = _predictor(model, device, precision, batch_size, rc_average, threads)
    stride = check_stride(stride, predictor.window)
    table = predictor.model.targets
    selected = select_targets(table, targets, target_class)
    if bigwig is not None and targets is None and target_class is None and len(table) > 16:
        raise DanQError(
            f"`bigwig`: the model has {len(table)} targets; choose the tracks with `targets` or "
            "`target_class` (one bigWig each)",
            params=("bigwig", "targets", "target_class"),
        )
    out = {"tsv": None, "h5": None, "bigwig": []}
    if out_prefix is not None:
        out["tsv"], out["h5"] = Path(f"{out_prefix}.tsv"), Path(f"{out_prefix}.h5")
        for path in (out["tsv"], out["h5"]):
            ensure_writable(path, "out_prefix")
    if bigwig is not None:
        ensure_writable(bigwig, "bigwig", folder=True)
        out["bigwig"] = track_paths(bigwig, table, selected)
    genome = None if fasta is None else (fasta if isinstance(fasta, Genome) else Genome(fasta))
    attrs = _provenance(model, predictor, fasta, bed, sequences, stride, pad)
    kind = "regions" if bed is not None else "sequences"
    with ExitStack() as stack:
        if bigwig is not None:
            stack.enter_context(output_folder(bigwig))
        tmp = {
            k: stack.enter_context(atomic_path(out[k])) for k in ("tsv", "h5") if out[k] is not None
        }
        tracks = [stack.enter_context(atomic_path(p)) for p in out["bigwig"]]
        n = _stream(
            predictor,
            kind,
            genome,
            bed,
            sequences,
            tmp,
            tracks,
            table,
            selected,
            stride,
            pad,
            attrs,
            progress,
        )
    out["rows"] = n
    return out


def _stream(
    predictor: Predictor,
    kind: str,
    genome: Genome | None,
    bed: Any,
    sequences: Any,
    tmp: dict[str, Path],
    tracks: list[Path],
    table: pd.DataFrame,
    selected: np.ndarray,
    stride: int,
    pad: bool,
    attrs: dict[str, Any],
    progress: bool,
) -> int:
    """Run the chunks into the temporary files; returns the number of rows."""
    contigs = genome.contigs if genome is not None else []
    tables = (
        _TableOut(tmp["tsv"], tmp["h5"], table, selected, kind, contigs, attrs) if tmp else None
    )
    collector = TrackWriter(genome.lengths, predictor.window, stride) if tracks else None
    n = 0
    try:
        if kind == "regions":
            regions, label = _regions_frame(bed)
            chunks = iter_region_predictions(
                predictor, genome, regions, stride=stride, pad=pad, label=label, progress=progress
            )
        else:
            chunks = _sequence_predictions(predictor, sequences, pad, progress)
        for rows, probs in chunks:
            if tables is not None:
                tables.add(rows, probs)
            if collector is not None:
                collector.add(rows, probs[:, selected])
            n += len(rows)
    finally:
        if tables is not None:
            tables.close()
    if collector is not None:
        collector.write(tracks)
    return n


def _provenance(
    model: ModelLike,
    predictor: Predictor,
    fasta: Any,
    bed: Any,
    sequences: Any,
    stride: int,
    pad: bool,
) -> dict[str, Any]:
    """HDF5 attributes: inputs (paths, checkpoint digest) and how the model ran."""
    path = model if isinstance(model, (str, os.PathLike)) else None
    return {
        "model": str(path or ""),
        "model_digest": file_digest(path) if path else "",
        "fasta": str(fasta or "") if not isinstance(fasta, Genome) else str(fasta.path),
        "bed": str(bed)
        if isinstance(bed, (str, os.PathLike))
        else ("<table>" if bed is not None else ""),
        "sequences": str(sequences or ""),
        "window": predictor.window,
        "stride": int(stride),
        "pad": bool(pad),
        "rc_average": bool(predictor.rc_average),
        "precision": predictor.precision,
        "device": str(predictor.device),
        "batch_size": int(predictor.batch_size),
    }
