"""First-layer filters as motifs: extraction, MEME files, and matching to JASPAR.

Three parts, in the order `danq motifs` runs them:

1. **Extraction** (`filter_pfms`), the DanQ/DeepBind recipe: run the first convolution
   over a windows HDF5 file; for every sequence whose maximum activation of filter f is
   positive, take the kernel-width subsequence at the argmax; the counts of these sites give
   the filter's position frequency matrix (PFM) and its number of sites.
2. **MEME format** (`write_meme`, `read_meme`): MEME minimal motif format version 4 with
   ``nsites=``, readable by the MEME suite (TOMTOM, FIMO) and by this module.
3. **Matching** (`match_motifs`): TOMTOM's statistic (Gupta et al. 2007, as MEME 4.x computes
   it with ``-dist pearson`` and its default complete scores), built in (no MEME suite needed):

   * pool: every column of every target motif and of its reverse complement;
   * column score: Pearson correlation of two 4-vectors of base probabilities (0 when a column
     has zero variance), minus the median of the query column's scores against the pool, so
     that a typical column scores 0 -- the score of a query column the target does not cover
     (complete scores: an alignment that overlaps only a filter's edge gains nothing from the
     rest of the filter);
   * scores are scaled to integers 0..100 per query (TOMTOM's rule) and an alignment's score is
     their sum over the overlap; the best alignment of a pair is the highest score over every
     offset with at least ``min_overlap`` overlapping columns (or the shorter width), both
     strands;
   * null: target columns drawn independently from the pool; the exact distribution of each
     span of query columns by convolution, and the p-value of the best score is that of the
     *maximum* over all offsets and both strands against a random target of the same width
     (TOMTOM's offset correction);
   * E-value = p-value x number of target motifs; a match is significant when E < ``evalue_max``
     (default 0.05). The best match of a query is the target with the smallest p-value.

   `bench/interpret/bench_tomtom.py` compares it with the DanQ authors' own TOMTOM run on
   their 320 filters (numbers in docs/benchmarks.md); TOMTOM's pool there also held two
   non-JASPAR databases, so p-values differ slightly.

No torch at import time; extraction imports it lazily.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from danq_pipeline._io import ensure_writable, write_text, write_tsv
from danq_pipeline.encode import ALPHABET, N_CODE
from danq_pipeline.errors import DanQError, located
from danq_pipeline.figures import motif_overview, motif_pair, save_png
from danq_pipeline.training_defaults import DEFAULT_PRECISION, PREDICT_BATCH_SIZE

if TYPE_CHECKING:  # torch is imported only when a model runs
    from danq_pipeline.dataset import WindowsH5
    from danq_pipeline.predictor import Predictor

BINS = 100  # TOMTOM's integer range of one column score
MATCH_COLUMNS = (
    "filter",
    "n_sites",
    "ic",
    "best_match_id",
    "best_match_name",
    "strand",
    "offset",
    "overlap",
    "pearson",
    "score",
    "pvalue",
    "evalue",
    "significant",
)


class PFM(NamedTuple):
    """A named position frequency matrix: probs (4, w) in A,C,G,T order (columns sum to 1)."""

    name: str
    probs: np.ndarray
    n_sites: int = 0
    alt_name: str = ""


class FilterMotifs(NamedTuple):
    """Extraction result: counts (F, 4, K) of bases at max-activating sites, sites per filter,
    base background (4,) of the scanned windows, and the number of windows scanned."""

    counts: np.ndarray
    n_sites: np.ndarray
    background: np.ndarray
    n_windows: int

    def pfms(self) -> list[PFM]:
        """One PFM per filter (uniform where a filter never fired), named filter_<i>."""
        col = self.counts.sum(axis=1, keepdims=True)
        probs = np.where(col > 0, self.counts / np.where(col > 0, col, 1), 0.25)
        return [PFM(f"filter_{i}", probs[i], int(self.n_sites[i])) for i in range(len(probs))]


# ----------------------------------------------------------------------------- extraction


def filter_pfms(
    predictor: Predictor,
    data: WindowsH5,
    *,
    max_windows: int | None = 20000,
    min_activation: float = 0.0,
    progress: bool = False,
) -> FilterMotifs:
    """Count the max-activating kernel-width sites of every first-layer filter.

    Parameters
    ----------
    predictor : Predictor
        Runs the network's first layer (Conv1d(4, F, K)); activations are relu(conv(x)).
    data : WindowsH5
        Windows to scan, in file order. With ``rc_pairs`` files only the forward half is used.
    max_windows : int or None, optional
        Scan at most this many windows (the first ones). Default is 20000; None = all.
    min_activation : float, optional
        A window is a site of filter f when its maximum activation of f is positive (the paper's
        recipe, the default 0.0) and, when this is > 0, at least this fraction of f's largest
        activation over all scanned windows (Basset's 0.5 sharpens weakly trained filters).
    progress : bool, optional
        tqdm bar over the scanned blocks.

    Returns
    -------
    FilterMotifs
    """
    n = len(data) // 2 if data.rc_pairs else len(data)
    n = min(n, max_windows) if max_windows else n
    if n == 0:
        raise DanQError(f"{data.path}: no windows to scan for filter motifs")
    codes, best, pos = _scan(predictor, data, n, progress)
    n_filters, k = best.shape[1], predictor.model.net.conv.weight.shape[2]
    cut = (
        np.maximum(min_activation * best.max(axis=0), 0.0)
        if min_activation > 0
        else np.zeros(n_filters)
    )
    counts = np.zeros(n_filters * 4 * k, dtype=np.int64)
    sites = np.zeros(n_filters, dtype=np.int64)
    for a in range(0, n, 2048):
        b = min(a + 2048, n)
        _add_sites(counts, sites, codes[a:b], best[a:b] > cut, pos[a:b], k)
    bases = np.bincount(codes.ravel(), minlength=N_CODE + 1)
    background = bases[:4] / max(bases[:4].sum(), 1)
    return FilterMotifs(counts.reshape(n_filters, 4, k).astype(np.float64), sites, background, n)


def _scan(
    predictor: Predictor, data: WindowsH5, n: int, progress: bool, block: int = 4096
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes (n, L), maximum activation (n, F) and its position (n, F) of the first `n` windows."""
    codes = np.empty((n, data.window), dtype=np.uint8)
    best, pos = [], []
    for a in _progress(range(0, n, block), progress, "filters"):
        b = min(a + block, n)
        codes[a:b], _ = data.read_codes(a, b)
        top, arg = predictor.filter_maxima(codes[a:b])
        best.append(top)
        pos.append(arg)
    return codes, np.concatenate(best), np.concatenate(pos)


def _add_sites(
    counts: np.ndarray,
    sites: np.ndarray,
    codes: np.ndarray,
    fired: np.ndarray,
    pos: np.ndarray,
    k: int,
) -> None:
    """Accumulate, in place, the base counts of the windows at `pos` (B, F) where `fired`."""
    n_filters = fired.shape[1]
    b_idx, f_idx = np.nonzero(fired)
    cols = pos[b_idx, f_idx][:, None] + np.arange(k)  # (S, K) positions in the window
    site_codes = codes[b_idx[:, None], cols]  # (S, K)
    ok = site_codes < 4
    flat = (f_idx[:, None] * 4 + site_codes.astype(np.int64)) * k + np.arange(k)
    counts += np.bincount(flat[ok], minlength=n_filters * 4 * k)
    sites += np.bincount(f_idx, minlength=n_filters)


def _progress(it, enabled: bool, desc: str):
    if not enabled:
        return it
    from tqdm import tqdm

    return tqdm(it, desc=desc, unit="batch", leave=False)


def information_content(probs: np.ndarray, background: np.ndarray | None = None) -> float:
    """Total information content in bits of a PFM (4, w) against `background` (default uniform)."""
    bg = np.full(4, 0.25) if background is None else np.asarray(background, dtype=float)
    p = np.asarray(probs, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p / bg[:, None]), 0.0)
    return float(terms.sum())


# ----------------------------------------------------------------------------- MEME format


def write_meme(
    path: str | os.PathLike,
    motifs: Sequence[PFM],
    background: np.ndarray | None = None,
) -> None:
    """Write motifs in MEME minimal format v4 (atomic: temp file, then rename)."""
    bg = np.full(4, 0.25) if background is None else np.asarray(background, dtype=float)
    lines = [
        "MEME version 4",
        "",
        f"ALPHABET= {ALPHABET}",
        "",
        "strands: + -",
        "",
        "Background letter frequencies",
        " ".join(f"{b} {v:.4f}" for b, v in zip(ALPHABET, bg, strict=True)),
        "",
    ]
    for m in motifs:
        w = m.probs.shape[1]
        lines.append(f"MOTIF {m.name}" + (f" {m.alt_name}" if m.alt_name else ""))
        lines.append(f"letter-probability matrix: alength= 4 w= {w} nsites= {int(m.n_sites)} E= 0")
        lines += [" ".join(f"{v:.6f}" for v in col) for col in m.probs.T]
        lines.append("")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, "\n".join(lines))


_MATRIX = re.compile(r"letter-probability matrix:(.*)")


def read_meme(path: str | os.PathLike) -> list[PFM]:
    """Parse the motifs of a MEME minimal-format file (DNA, A,C,G,T) into PFMs."""
    path = Path(path)
    if not path.exists():
        raise DanQError(f"{path}: no such MEME file")
    lines = path.read_text().splitlines()
    motifs, i = [], 0
    while i < len(lines):
        if lines[i].startswith("MOTIF"):
            m, i = _read_meme_motif(path, lines, i)
            motifs.append(m)
        else:
            i += 1
    return motifs


def _read_meme_motif(path: Path, lines: list[str], i: int) -> tuple[PFM, int]:
    """Parse one MOTIF block starting at line index `i`; return it and the next line index."""
    words = lines[i].split()
    if len(words) < 2:
        raise located(path, i + 1, "MOTIF line without a name", "write `MOTIF <name>`")
    name, alt = words[1], " ".join(words[2:])
    j = i + 1
    while j < len(lines) and not _MATRIX.match(lines[j].strip()):
        j += 1
    if j == len(lines):
        raise located(path, i + 1, f"motif {name} has no letter-probability matrix")
    fields = dict(re.findall(r"(\w+)=\s*(\S+)", _MATRIX.match(lines[j].strip()).group(1)))
    w = int(fields.get("w", 0))
    rows = []
    for k in range(j + 1, j + 1 + w):
        try:
            rows.append([float(v) for v in lines[k].split()])
        except (ValueError, IndexError):
            raise located(
                path, k + 1, f"motif {name}: expected {w} rows of 4 probabilities"
            ) from None
    if any(len(r) != 4 for r in rows):
        raise located(path, j + 2, f"motif {name}: rows must have 4 columns (A C G T)")
    return PFM(name, np.array(rows).T, int(float(fields.get("nsites", 0))), alt), j + 1 + w


# ----------------------------------------------------------------------------- matching


def reverse_complement_pfm(probs: np.ndarray) -> np.ndarray:
    """Reverse complement of a (4, w) A,C,G,T matrix: flip both axes."""
    return np.asarray(probs)[::-1, ::-1].copy()


def _standardize(probs: np.ndarray) -> np.ndarray:
    """(…, 4, w) -> (…, w, 4) columns with zero mean and unit norm (zero-variance columns -> 0),
    so that a dot product of two columns is their Pearson correlation."""
    c = np.swapaxes(np.asarray(probs, dtype=np.float64), -1, -2)
    c = c - c.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(c, axis=-1, keepdims=True)
    return np.where(norm > 1e-9, c / np.where(norm > 1e-9, norm, 1), 0.0)


class ColumnScores(NamedTuple):
    """TOMTOM's integer column scores of queries (Q, 4, wq) against a pool of C target columns.

    ``scores[q, i, c]``: query column i's Pearson correlation with pool column c, minus the
    median over the pool of column i's correlations, scaled and rounded to an integer; an
    unaligned query column scores 0. ``hist[q, i, k]``: the fraction of the pool whose score
    for column i is ``k - zero[q]`` (k = 0..BINS). ``corr``: the raw correlations.
    """

    scores: np.ndarray
    hist: np.ndarray
    zero: np.ndarray
    corr: np.ndarray


def column_scores(queries: np.ndarray, pool: np.ndarray) -> ColumnScores:
    """TOMTOM's complete-score column scores of queries (Q, 4, wq) against pool columns (C, 4).

    Pearson correlation per column pair; each query column's correlations are shifted by their
    median over the pool (TOMTOM's rule: the mean of the values at ranks floor(C/2) and
    ceil(C/2)), so that a typical column scores 0, the score of an unaligned column. Per query,
    the shifted scores map to integers 0..BINS as TOMTOM scales them: offset = floor(smallest),
    scale = floor(BINS / (largest - offset)), score = round((x - offset) * scale).
    """
    corr = np.einsum("qic,kc->qik", _standardize(queries), _standardize(pool.T))  # (Q, wq, C)
    n = corr.shape[2]
    ranks = sorted({max(int(np.floor(n / 2)) - 1, 0), max(int(np.ceil(n / 2)) - 1, 0)})
    part = np.partition(corr, ranks, axis=2)
    shifted = corr - part[:, :, ranks].mean(axis=2, keepdims=True)
    large = shifted.max(axis=(1, 2))
    small = shifted.min(axis=(1, 2))
    offset = np.floor(np.where(large == small, large - 1, small))
    scale = np.floor(BINS / (large - offset))
    binned = np.floor((shifted - offset[:, None, None]) * scale[:, None, None] + 0.5).astype(
        np.int64
    )
    flat = binned + (BINS + 1) * np.arange(binned.shape[0] * binned.shape[1]).reshape(
        binned.shape[:2] + (1,)
    )
    hist = np.bincount(flat.ravel(), minlength=binned.shape[0] * binned.shape[1] * (BINS + 1))
    zero = np.rint(-offset * scale).astype(np.int64)
    return ColumnScores(
        binned - zero[:, None, None], hist.reshape(binned.shape[:2] + (BINS + 1,)) / n, zero, corr
    )


def span_tails(hist: np.ndarray, zero: int) -> np.ndarray:
    """P(sum of the scores of query columns a..b >= s) for every span: (wq, wq, wq*BINS + 1).

    ``out[a, b, s + wq*zero]`` for a <= b, under TOMTOM's null: the score of each column is
    drawn independently from its histogram over the pool. Exact convolution (not FFT), so
    tails far below 1e-16 keep their precision.
    """
    wq = len(hist)
    nz = [np.flatnonzero(h) for h in hist]
    first = [int(i[0]) for i in nz]
    trimmed = [h[f : int(i[-1]) + 1] for h, f, i in zip(hist, first, nz, strict=True)]
    out = np.zeros((wq, wq, wq * BINS + 1))
    for a in range(wq):
        pmf, lo = np.ones(1), 0
        for b in range(a, wq):
            pmf, lo = np.convolve(pmf, trimmed[b]), lo + first[b]  # scaled sums lo .. lo+len-1
            start = lo + zero * (wq - (b - a + 1))  # index of scaled sum lo
            out[a, b, :start] = 1.0
            out[a, b, start : start + len(pmf)] = np.cumsum(pmf[::-1])[::-1]
    return np.minimum(out, 1.0)


def max_pvalues(tails: np.ndarray, target_width: int, index: np.ndarray) -> np.ndarray:
    """P(best alignment score >= s) against a random target of `target_width` columns.

    `index` holds scores as s + wq*zero (`span_tails`' index), any shape. TOMTOM's offset
    correction: the maximum over every offset (any overlap) and both strands, alignments
    independent, unaligned query columns scoring 0.
    """
    wq = tails.shape[0]
    offs = np.arange(-(target_width - 1), wq)
    first, last = np.maximum(0, offs), np.minimum(wq, offs + target_width) - 1
    tail = tails[first[:, None], last[:, None], np.ravel(index)[None, :]]  # (offsets, n)
    with np.errstate(divide="ignore"):
        log_none = 2 * np.log1p(-tail).sum(axis=0)  # both strands
    return -np.expm1(log_none).reshape(np.shape(index))


class Alignment(NamedTuple):
    """Best alignments of queries (Q) against same-width targets (T): arrays of shape (Q, T).
    ``score`` is TOMTOM's integer score, ``pearson`` the sum of raw correlations over the overlap."""

    score: np.ndarray
    pearson: np.ndarray
    offset: np.ndarray
    overlap: np.ndarray
    strand: np.ndarray


def best_alignments(cols: ColumnScores, pool_index: np.ndarray, min_overlap: int = 5) -> Alignment:
    """TOMTOM's best alignment of each query against same-width targets.

    `pool_index` (2, T, wt): the pool columns of each target on strand + and -. Offsets overlap
    by at least min(min_overlap, wq, wt) columns; the highest integer score wins (ties: the
    larger overlap, then TOMTOM's order: query starting further right, strand +).
    """
    wq = cols.scores.shape[1]
    wt = pool_index.shape[2]
    offs = np.arange(-(wt - 1), wq)  # query col at target col 0
    overlap = np.minimum(wq, offs + wt) - np.maximum(0, offs)
    weight = max(wq, wt) + 1
    keys, picks = [], []
    for si in range(2):
        s = _diagonal_sums(cols.scores, pool_index[si])
        key = np.where(
            overlap >= min(min_overlap, wq, wt), s * weight + overlap, np.iinfo(np.int64).min
        )
        pick = len(offs) - 1 - np.argmax(key[..., ::-1], axis=-1)  # last offset = TOMTOM's first
        keys.append(np.take_along_axis(key, pick[..., None], -1)[..., 0])
        picks.append(pick)
    minus = keys[1] > keys[0]
    pick = np.where(minus, picks[1], picks[0])
    off = offs[pick]
    columns = np.where(minus[..., None], pool_index[1][None], pool_index[0][None])  # (Q, T, wt)
    rows = off[..., None] + np.arange(wt)  # query column per target column
    inside = (rows >= 0) & (rows < wq)
    q_idx = np.arange(len(off))[:, None, None]
    rows_c = np.clip(rows, 0, wq - 1)
    score = np.where(inside, cols.scores[q_idx, rows_c, columns], 0).sum(axis=-1)
    pearson = np.where(inside, cols.corr[q_idx, rows_c, columns], 0.0).sum(axis=-1)
    return Alignment(score, pearson, off, overlap[pick], np.where(minus, "-", "+"))


def _diagonal_sums(scores: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Sums over every offset of query columns i against target columns i - offset: (Q, T, wq+wt-1).

    `scores` (Q, wq, C) against pool columns; `columns` (T, wt) the pool columns of each target.
    Offsets run from -(wt-1) to wq-1 (the query column aligned to the target's first column).
    """
    n_q, wq = scores.shape[:2]
    n_t, wt = columns.shape
    out = np.zeros((n_q, n_t, wq + wt - 1), dtype=scores.dtype)
    for j in range(wt):
        out[:, :, wt - 1 - j : wt - 1 - j + wq] += np.swapaxes(scores[:, :, columns[:, j]], 1, 2)
    return out


def match_motifs(
    queries: Sequence[PFM], targets: Sequence, *, min_overlap: int = 5, chunk: int = 16
) -> pd.DataFrame:
    """Compare every query PFM with every target motif (TOMTOM's statistic); one row per pair.

    Parameters
    ----------
    queries : sequence of PFM
        E.g. `FilterMotifs.pfms()`; queries may differ in width.
    targets : sequence of jaspar.Motif (or PFM)
        Anything with a name, an id (``matrix_id``; PFMs use their name) and a (4, w) ``pfm``
        or ``probs`` matrix. The null column pool is built from these targets (both strands).
    min_overlap, chunk
        Minimum overlapping columns (capped at the shorter width; TOMTOM's -min-overlap);
        queries scored at a time.

    Returns
    -------
    pandas.DataFrame
        Columns query, target_id, target_name, strand, offset, overlap, score (sum of column
        Pearson correlations over the overlap), pearson (their mean), pvalue, evalue
        (p x number of targets).
    """
    if not targets:
        raise DanQError("no target motifs to match against")
    t_probs = [_probs(t) for t in targets]
    pool = np.concatenate(
        t_probs + [reverse_complement_pfm(t) for t in t_probs], axis=1
    ).T  # (C, 4)
    starts = np.cumsum([0] + [t.shape[1] for t in t_probs])
    groups = []
    for wt, t_idx in _groups([t.shape[1] for t in t_probs]):
        fwd = starts[t_idx][:, None] + np.arange(wt)
        groups.append(
            (wt, np.asarray(t_idx), np.stack([fwd, fwd + starts[-1]]))
        )  # rc j: same slots
    rows = []
    for _, idx in _groups([q.probs.shape[1] for q in queries]):
        for a in range(0, len(idx), chunk):
            sel = idx[a : a + chunk]
            rows.append(
                _match_chunk(
                    np.stack([queries[i].probs for i in sel]), sel, pool, groups, min_overlap
                )
            )
    table = pd.concat(rows, ignore_index=True)
    table["query"] = [queries[i].name for i in table.pop("qi")]
    table["target_id"] = [_target_id(targets[j]) for j in table["ti"]]
    table["target_name"] = [_target_name(targets[j]) for j in table.pop("ti")]
    table["evalue"] = table["pvalue"] * len(targets)
    cols = [
        "query",
        "target_id",
        "target_name",
        "strand",
        "offset",
        "overlap",
        "score",
        "pearson",
        "pvalue",
        "evalue",
    ]
    return table[cols]


def _match_chunk(
    q: np.ndarray,
    q_index: list[int],
    pool: np.ndarray,
    groups: list,
    min_overlap: int,
) -> pd.DataFrame:
    """Best alignments and p-values of same-width queries `q` (Q, 4, wq) against all targets."""
    cols = column_scores(q, pool)
    tails = [span_tails(h, int(z)) for h, z in zip(cols.hist, cols.zero, strict=True)]
    parts = []
    for wt, t_idx, pool_index in groups:
        best = best_alignments(cols, pool_index, min_overlap)
        index = best.score + q.shape[2] * cols.zero[:, None]
        pvalue = np.stack([max_pvalues(t, wt, i) for t, i in zip(tails, index, strict=True)])
        qi, tj = np.meshgrid(np.asarray(q_index), t_idx, indexing="ij")
        parts.append(
            pd.DataFrame(
                {
                    "qi": qi.ravel(),
                    "ti": tj.ravel(),
                    "strand": best.strand.ravel(),
                    "offset": best.offset.ravel(),
                    "overlap": best.overlap.ravel(),
                    "score": best.pearson.ravel(),
                    "pearson": (best.pearson / np.maximum(best.overlap, 1)).ravel(),
                    "pvalue": pvalue.ravel(),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _groups(widths: list[int]) -> list[tuple[int, list[int]]]:
    """Indices grouped by width: [(width, [i, ...]), ...]."""
    out: dict[int, list[int]] = {}
    for i, w in enumerate(widths):
        out.setdefault(w, []).append(i)
    return sorted(out.items())


def _probs(t) -> np.ndarray:
    return np.asarray(t.pfm if hasattr(t, "pfm") else t.probs, dtype=np.float64)


def _target_id(t) -> str:
    return str(getattr(t, "matrix_id", getattr(t, "name", "")))


def _target_name(t) -> str:
    return str(getattr(t, "name", ""))


def best_matches(
    pairs: pd.DataFrame,
    queries: Sequence[PFM],
    *,
    evalue_max: float = 0.05,
    background: np.ndarray | None = None,
) -> pd.DataFrame:
    """The best match (smallest p-value) of each query: the motif_matches.tsv table.

    Rows follow the query order (``filter`` = index in `queries`, whose names must be unique);
    queries absent from `pairs` (e.g. filters that never fired) get empty match fields.
    """
    base = pd.DataFrame(
        {
            "query": [q.name for q in queries],
            "filter": np.arange(len(queries)),
            "n_sites": [int(q.n_sites) for q in queries],
            "ic": [
                round(information_content(q.probs, background), 3) if q.n_sites > 0 else 0.0
                for q in queries
            ],
        }
    )
    best = pairs.loc[pairs.groupby("query", sort=False)["pvalue"].idxmin()] if len(pairs) else pairs
    best = best.rename(columns={"target_id": "best_match_id", "target_name": "best_match_name"})
    table = base.merge(best, on="query", how="left")
    for col in ("best_match_id", "best_match_name", "strand"):
        table[col] = table[col].fillna("").astype(str)
    table["significant"] = table["evalue"].astype(float) < evalue_max
    return table[list(MATCH_COLUMNS)]


# ----------------------------------------------------------------------------- the `motifs` step


def filter_motifs(
    model_path: str | os.PathLike,
    data_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    max_windows: int | None = 20000,
    min_activation: float = 0.0,
    top: int = 12,
    jaspar_release: str | None = None,
    evalue_max: float = 0.05,
    min_overlap: int = 5,
    batch_size: int = PREDICT_BATCH_SIZE,
    device: str | None = "auto",
    precision: str = DEFAULT_PRECISION,
    progress: bool = False,
) -> pd.DataFrame:
    """Filters of a checkpoint as motifs, matched to JASPAR CORE vertebrates (`danq motifs`).

    Writes into `out_dir`: filters.meme (all filters, MEME v4 with nsites), motif_matches.tsv
    (best match per filter, sorted by E-value), motif_matches_all.tsv (every significant
    filter/motif pair), logos/filter_<i>.png for the `top` filters with the smallest E-values
    and logos.png (an overview of those). Returns the best-match table.
    """
    from danq_pipeline.dataset import WindowsH5
    from danq_pipeline.jaspar import load_jaspar
    from danq_pipeline.predictor import as_predictor

    ensure_writable(out_dir, "out_dir", folder=True)
    predictor = as_predictor(model_path, device=device, precision=precision, batch_size=batch_size)
    found = filter_pfms(
        predictor,
        WindowsH5(data_path),
        max_windows=max_windows,
        min_activation=min_activation,
        progress=progress,
    )
    pfms = found.pfms()
    jaspar = load_jaspar(release=jaspar_release)
    fired = [p for p in pfms if p.n_sites > 0]
    pairs = match_motifs(fired, jaspar, min_overlap=min_overlap) if fired else _empty_pairs()
    table = best_matches(pairs, pfms, evalue_max=evalue_max, background=found.background)
    table = table.sort_values(["evalue", "ic"], ascending=[True, False], na_position="last")
    out = Path(out_dir)
    write_meme(out / "filters.meme", pfms, found.background)
    write_tsv(table, out / "motif_matches.tsv", float_format="%.4g")
    write_tsv(
        pairs[pairs["evalue"] < evalue_max].sort_values("evalue"),
        out / "motif_matches_all.tsv",
        float_format="%.4g",
    )
    by_id = {m.matrix_id: m for m in jaspar}
    best = table[table["n_sites"] > 0].head(top)
    write_logos(out, [pfms[i] for i in best["filter"]], best, by_id)
    return table.reset_index(drop=True)


def _empty_pairs() -> pd.DataFrame:
    return pd.DataFrame(
        columns=[
            "query",
            "target_id",
            "target_name",
            "strand",
            "offset",
            "overlap",
            "score",
            "pearson",
            "pvalue",
            "evalue",
        ]
    )


def write_logos(
    out_dir: str | os.PathLike, pfms: Sequence[PFM], matches: pd.DataFrame, jaspar_by_id: dict
) -> None:
    """Per-filter logo PNGs (filter above, best JASPAR match aligned below) and an overview."""
    out = Path(out_dir)
    (out / "logos").mkdir(parents=True, exist_ok=True)
    rows = list(matches.itertuples(index=False))
    for pfm, row in zip(pfms, rows, strict=True):
        title = f"filter {row.filter} ({pfm.n_sites} sites, IC {row.ic:.1f} bits)"
        motif = jaspar_by_id.get(row.best_match_id)
        if motif is None or not row.best_match_id:
            fig = motif_pair(pfm.probs, title)
        else:
            probs = motif.pfm if row.strand == "+" else reverse_complement_pfm(motif.pfm)
            fig = motif_pair(pfm.probs, title, probs, _match_label(row), int(row.offset))
        save_png(fig, out / "logos" / f"filter_{row.filter}.png")
    overview = [
        (pfm.probs, f"filter {row.filter}: {_match_label(row)}")
        for pfm, row in zip(pfms, rows, strict=False)
    ]
    save_png(motif_overview(overview), out / "logos.png")


def _match_label(row) -> str:
    if not row.best_match_id:
        return "no match"
    mark = "" if row.significant else " (not significant)"
    return f"{row.best_match_name} {row.best_match_id} ({row.strand}) E={row.evalue:.2g}{mark}"
