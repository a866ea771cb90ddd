"""Variant effect scoring: VCF records -> ref/alt windows -> per-target effect scores.

Window convention (the one place VCF's 1-based POS becomes a 0-based window, see
`variant_window`): a window of L bp holds the variant's first REF base at 0-based index
``L // 2 - 1`` (499 for L = 1000, as Selene, kipoi and janggu do). The REF window is the
genome there. The ALT window is the ALT haplotype (genome left of POS, then ALT, then the
genome after REF), cut to L bp so that ALT starts at index
``L // 2 - 1 + floor((len(REF) - len(ALT)) / 2)``: SNVs and MNVs sit exactly where REF sat,
an indel's ALT allele is re-centred on the REF allele's centre, and the flanks are filled
from the genome so both windows are exactly L bp.

Every VCF record appears in the output, one row per ALT allele, with a status (`STATUSES`);
only `ok` rows carry scores (NaN elsewhere).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Union

import numpy as np
import pandas as pd

from danq_pipeline.dataset import select_targets
from danq_pipeline.encode import N_CODE, decode, reverse_complement_codes
from danq_pipeline.errors import DanQError, DanQWarning, located
from danq_pipeline.training_defaults import DEFAULT_PRECISION
from danq_pipeline.genome import Genome, naming_hint, open_text

if TYPE_CHECKING:  # torch stays a lazy import here
    from danq_pipeline.model import TrainedModel
    from danq_pipeline.predictor import Predictor

ModelLike = Union[str, os.PathLike, "TrainedModel", "Predictor"]

# statuses in the order they are checked (the first that applies wins)
STATUSES = ("ok", "unknown_contig", "out_of_bounds", "unsupported_allele", "ref_equals_alt", "ref_mismatch",
            "n_rich")
TABLE_COLUMNS = ("chrom", "pos", "id", "ref", "alt", "status")
_BASES_RE = re.compile(r"^[ACGTN]+$")
_BASES_ANY_CASE_RE = re.compile(r"[ACGTNacgtn]+")
_LOGIT_EPS = 1e-12


def variant_window(pos: int, seq_len: int) -> tuple[int, int]:
    """0-based half-open window [start, end) of `seq_len` bp for the 1-based VCF position `pos`.

    The base at VCF POS (0-based ``pos - 1``) sits at window index ``seq_len // 2 - 1``.
    """
    start = (pos - 1) - (seq_len // 2 - 1)
    return start, start + seq_len


def alt_offset(seq_len: int, ref_len: int, alt_len: int) -> int:
    """Index of the ALT allele's first base in the ALT window (re-centred for indels)."""
    return seq_len // 2 - 1 + (ref_len - alt_len) // 2


@dataclass
class VcfRecord:
    """One VCF record, as read (chrom is the name used for the FASTA, `vcf_chrom` the file's)."""

    chrom: str
    vcf_chrom: str
    pos: int
    id: str
    ref: str
    alts: tuple[str, ...]
    line: int | None
    index: int
    text: str = ""


@dataclass
class AlleleWindows:
    """Statuses of a record's ALT alleles, and the windows of the `ok` ones (uint8 codes)."""

    statuses: list[str]
    ref: np.ndarray | None = None
    alts: dict[int, np.ndarray] = field(default_factory=dict)


class VariantBatch(NamedTuple):
    """Scores of a block of records: one table row per ALT allele, matrices aligned to rows.

    `ref_prob`, `alt_prob`, `diff`, `logodds` are float32 (rows, targets), NaN where status != ok.
    `records` are the VcfRecord objects of the block (used to annotate the VCF output).
    """

    table: pd.DataFrame
    ref_prob: np.ndarray
    alt_prob: np.ndarray
    diff: np.ndarray
    logodds: np.ndarray
    records: list[VcfRecord]


# --------------------------------------------------------------------------- reading


def rename_contig(name: str, mode: str | None) -> str:
    """Apply --rename-contigs: None (unchanged), 'add-chr' or 'remove-chr'."""
    if mode is None:
        return name
    if mode == "add-chr":
        return name if name.startswith("chr") else "chr" + name
    if mode == "remove-chr":
        return name[3:] if name.startswith("chr") else name
    raise DanQError(f"unknown contig renaming {mode!r}; use add-chr or remove-chr")


def _header_line_count(path: Path) -> int | None:
    """Number of header lines of a text VCF (plain or gzip); None for BCF."""
    with open(path, "rb") as fh:
        magic = fh.read(3)
    if magic[:2] == b"\x1f\x8b":
        import gzip

        with gzip.open(path, "rb") as fh:
            if fh.read(3) == b"BCF":
                return None
    elif magic == b"BCF":
        return None
    count = 0
    with open_text(path) as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            count += 1
    return count


def _diagnose(path: Path, line: int | None) -> str:
    """Say what is wrong with a text VCF line that htslib refused."""
    if line is None:
        return "malformed BCF record"
    with open_text(path) as fh:
        for i, text in enumerate(fh, start=1):
            if i == line:
                cols = text.rstrip("\n").split("\t")
                if len(cols) < 8:
                    return f"malformed VCF record: {len(cols)} tab-separated columns, VCF needs at least 8"
                if not cols[1].isdigit():
                    return f"malformed VCF record: POS {cols[1]!r} is not a positive integer"
                if not cols[3] or cols[3] == ".":
                    return "malformed VCF record: empty REF"
                return f"malformed VCF record ({text[:60].strip()!r})"
    return "malformed or truncated VCF (unexpected end of file)"


def open_vcf(path: str | os.PathLike):
    """Open a VCF/VCF.gz/BCF with pysam; htslib's warnings are silenced (we report in-band)."""
    import pysam

    path = Path(path)
    if not path.exists():
        raise DanQError(f"{path}: no such VCF file; check the path")
    if _is_plain_gzip(path):
        raise _plain_gzip_error(path)
    pysam.set_verbosity(0)
    try:
        return pysam.VariantFile(str(path))
    except NotImplementedError:  # htslib cannot seek in a plain-gzip stream
        raise _plain_gzip_error(path) from None
    except (ValueError, OSError) as err:
        raise located(path, None, f"not a readable VCF/BCF file ({err})",
                      "give a VCF, bgzipped VCF or BCF with a #CHROM header line") from None


def _is_plain_gzip(path: Path) -> bool:
    """True for a gzip file that is not BGZF (no 'BC' extra subfield in its first block header)."""
    with open(path, "rb") as fh:
        head = fh.read(14)
    is_gzip = head[:2] == b"\x1f\x8b"
    is_bgzf = len(head) == 14 and head[3] & 4 and head[12:14] == b"BC"
    return is_gzip and not is_bgzf


def _plain_gzip_error(path: Path) -> DanQError:
    """The one-line error for a VCF compressed with plain gzip (htslib needs BGZF)."""
    return located(path, None, "gzip-compressed but not BGZF",
                   f"recompress it with `zcat {path.name} | bgzip > variants.vcf.gz` or decompress it")


def count_records(path: str | os.PathLike) -> int:
    """Number of records in a VCF (one streaming pass)."""
    return sum(1 for _ in read_vcf(path, keep_text=False))


def read_vcf(path: str | os.PathLike, *, rename_contigs: str | None = None, keep_text: bool = True,
             start: int = 0, stop: int | None = None) -> Iterator[VcfRecord]:
    """Stream the records of a VCF/VCF.gz/BCF, records `start` to `stop` (0-based, half-open).

    A malformed record raises a one-line DanQError naming ``file:line``.
    """
    path = Path(path)
    vf = open_vcf(path)
    n_header = _header_line_count(path)
    it = iter(vf)
    index = 0
    try:
        while stop is None or index < stop:
            line = None if n_header is None else n_header + index + 1
            try:
                rec = next(it)
            except StopIteration:
                break
            except (ValueError, OSError) as err:
                where = line if line is not None else None
                raise located(path, where, _diagnose(path, line) if line else f"malformed record {index + 1} ({err})",
                              "fix or remove the record (bcftools view can re-export the file)") from None
            if index >= start:
                yield _record(rec, index, line, rename_contigs, keep_text)
            index += 1
    finally:
        vf.close()


def _record(rec: Any, index: int, line: int | None, rename: str | None, keep_text: bool) -> VcfRecord:
    """A VcfRecord from a pysam VariantRecord; REF and base-letter ALTs upper-cased (symbolic ALTs kept)."""
    alts = tuple(a.upper() if _BASES_ANY_CASE_RE.fullmatch(a) else a for a in rec.alts or (".",))
    return VcfRecord(chrom=rename_contig(rec.chrom, rename), vcf_chrom=rec.chrom, pos=int(rec.pos),
                     id=rec.id or ".", ref=(rec.ref or "").upper(), alts=alts,
                     line=line, index=index, text=str(rec) if keep_text else "")


# --------------------------------------------------------------------------- windows


def allele_windows(genome: Genome, rec: VcfRecord, seq_len: int, max_n_fraction: float) -> AlleleWindows:
    """Check a record against the genome and build its REF window and the ok ALT windows."""
    n = len(rec.alts)
    if rec.chrom not in genome.lengths:
        return AlleleWindows(["unknown_contig"] * n)
    (start, end), r = variant_window(rec.pos, seq_len), len(rec.ref)
    p0 = rec.pos - 1  # 0-based first REF base
    if p0 < 0 or p0 + r > genome.lengths[rec.chrom] or r == 0:
        return AlleleWindows(["out_of_bounds"] * n)
    ok_alt = [_BASES_RE.match(a.upper()) is not None and max(len(a), r) <= seq_len // 2 for a in rec.alts]
    offsets = [alt_offset(seq_len, r, len(a)) for a in rec.alts]
    lo = min([start] + [p0 - o for o, good in zip(offsets, ok_alt, strict=True) if good])
    hi = max([end] + [p0 + r + seq_len - o - len(a)
                      for o, a, good in zip(offsets, rec.alts, ok_alt, strict=True) if good])
    codes = genome.fetch_codes(rec.chrom, lo, hi, pad=True)
    ref_ok = decode(codes[p0 - lo:p0 - lo + r]) == re.sub(r"[^ACGT]", "N", rec.ref)
    ref_win = codes[start - lo:end - lo]
    out = AlleleWindows([], ref=ref_win)
    ref_n_rich = np.count_nonzero(ref_win == N_CODE) > max_n_fraction * seq_len
    for i, alt in enumerate(rec.alts):
        if not ok_alt[i]:
            out.statuses.append("unsupported_allele")
            continue
        if alt.upper() == rec.ref.upper():  # a no-change allele: a malformed record, not a zero effect
            out.statuses.append("ref_equals_alt")
            continue
        if not ref_ok:
            out.statuses.append("ref_mismatch")
            continue
        win = _alt_window(codes, lo, p0, r, alt.upper(), offsets[i], seq_len)
        if ref_n_rich or np.count_nonzero(win == N_CODE) > max_n_fraction * seq_len:
            out.statuses.append("n_rich")
            continue
        out.statuses.append("ok")
        out.alts[i] = win
    return out


def _alt_window(codes: np.ndarray, lo: int, p0: int, ref_len: int, alt: str, offset: int,
                seq_len: int) -> np.ndarray:
    """ALT window: genome left flank, ALT allele at `offset`, genome right flank (after REF)."""
    from danq_pipeline.encode import encode

    left = codes[p0 - offset - lo:p0 - lo]
    right_len = seq_len - offset - len(alt)
    right = codes[p0 + ref_len - lo:p0 + ref_len - lo + right_len]
    return np.concatenate([left, encode(alt), right])


# --------------------------------------------------------------------------- scoring


def _logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) with p clipped away from 0 and 1."""
    p = np.clip(p, _LOGIT_EPS, 1 - _LOGIT_EPS)
    return np.log(p) - np.log1p(-p)


def score_block(predictor: Predictor, genome: Genome, records: list[VcfRecord], *, max_n_fraction: float,
                shared: bool = True, strict: bool = False, vcf_path: Any = None) -> VariantBatch:
    """Score a block of records (every ALT allele gets a row; only ok rows are computed)."""
    seq_len, n_targets = predictor.window, predictor.n_targets
    rows, refs, alts, alt_ref, spans, alt_rows, ref_of_row = [], [], [], [], [], [], []
    for rec in records:
        aw = allele_windows(genome, rec, seq_len, max_n_fraction)
        if strict and "ref_mismatch" in aw.statuses:
            have = genome.fetch(rec.chrom, rec.pos - 1, rec.pos - 1 + len(rec.ref))
            raise located(vcf_path, rec.line, f"REF {rec.ref} does not match the FASTA ({have}) at "
                          f"{rec.vcf_chrom}:{rec.pos}", "check the genome build, or drop --strict to report it as a status")
        if aw.alts:
            refs.append(aw.ref)
        c = seq_len // 2 - 1
        for i, (alt, status) in enumerate(zip(rec.alts, aw.statuses, strict=True)):
            if status == "ok":
                alt_rows.append(len(rows))
                ref_of_row.append(len(refs) - 1)
                alts.append(aw.alts[i])
                alt_ref.append(len(refs) - 1)
                spans.append((c, c + len(rec.ref)) if len(alt) == len(rec.ref) else None)
            rows.append((rec.vcf_chrom, rec.pos, rec.id, rec.ref, alt, status))
    ref_p = np.full((len(rows), n_targets), np.nan)
    alt_p = np.full((len(rows), n_targets), np.nan)
    if alts:
        p_ref, p_alt = predictor.allele_probabilities(np.stack(refs), np.stack(alts), np.array(alt_ref), spans,
                                                      shared=shared)
        ref_p[alt_rows] = p_ref[ref_of_row]
        alt_p[alt_rows] = p_alt
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    diff = alt_p - ref_p
    logodds = _logit(alt_p) - _logit(ref_p)
    f32 = np.float32
    return VariantBatch(table, ref_p.astype(f32), alt_p.astype(f32), diff.astype(f32), logodds.astype(f32), records)


def parse_chunk(chunk: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """'K/N' -> (K, N) with 1 <= K <= N."""
    if chunk is None or isinstance(chunk, tuple):
        return chunk
    m = re.fullmatch(r"(\d+)/(\d+)", str(chunk).strip())
    if not m or not (1 <= int(m.group(1)) <= int(m.group(2))):
        raise DanQError(f"--chunk {chunk!r}: expected K/N with 1 <= K <= N, e.g. 2/8")
    return int(m.group(1)), int(m.group(2))


def chunk_bounds(n_records: int, chunk: tuple[int, int] | None) -> tuple[int, int | None]:
    """Record range [start, stop) of the K-th of N contiguous blocks."""
    if chunk is None:
        return 0, None
    k, n = chunk
    return (k - 1) * n_records // n, k * n_records // n


def iter_variant_scores(model: ModelLike, fasta: str | os.PathLike | Genome, vcf: str | os.PathLike, *,
                        batch_size: int = 128, rc_average: bool = True, max_n_fraction: float = 0.1,
                        strict: bool = False, rename_contigs: str | None = None,
                        chunk: str | tuple[int, int] | None = None, device: str | None = "auto",
                        precision: str = DEFAULT_PRECISION,
                        index_dir: str | os.PathLike | None = None, keep_text: bool = False,
                        shared: bool = True, progress: bool = True,
                        progress_interval_s: float = 30.0) -> Iterator[VariantBatch]:
    """Stream a VCF through the model in blocks of about `batch_size` scored alleles.

    Memory stays flat: one block of records and windows is held at a time. Yields
    `VariantBatch` objects in VCF order; every record appears (one row per ALT allele).
    `chunk` ("K/N") scores only the K-th of N contiguous record blocks (scatter jobs).
    `shared` lets SNV/MNV ALT windows reuse their REF window's computation (DanQ models;
    equal to the plain forward pass, see variant_shared.py); False forces the plain pass.
    `model` is a checkpoint path, a `TrainedModel` or a `Predictor` (which then brings its
    own device, precision and strand setting; `rc_average`, `device`, `precision` are for
    the other two).
    `progress` reports records done on stderr: a bar on a terminal, else a plain line with
    done/total, rate and ETA every `progress_interval_s` seconds (workflow logs).
    """
    from danq_pipeline.predictor import as_predictor
    from danq_pipeline.progress import Progress

    predictor = as_predictor(model, device=device, precision=precision, rc_average=rc_average)
    genome = fasta if isinstance(fasta, Genome) else Genome(fasta, index_dir=index_dir)
    # one extra streaming pass (about 25 us a record, little next to scoring) gives the chunk's
    # record range and the progress total
    n_records = count_records(vcf) if chunk or progress else None
    start, stop = chunk_bounds(n_records, parse_chunk(chunk)) if chunk else (0, n_records)
    checker = _ContigChecker(genome, vcf, rename_contigs)
    kw = dict(max_n_fraction=max_n_fraction, shared=shared, strict=strict, vcf_path=vcf)
    bar = Progress(None if stop is None else stop - start, desc="score-variants", unit="records",
                   enabled=progress, interval_s=progress_interval_s)
    block: list[VcfRecord] = []
    n_alleles = 0
    for rec in read_vcf(vcf, rename_contigs=rename_contigs, keep_text=keep_text, start=start, stop=stop):
        checker.see(rec)
        block.append(rec)
        n_alleles += len(rec.alts)
        if n_alleles >= batch_size:
            yield score_block(predictor, genome, block, **kw)
            bar.update(len(block))
            block, n_alleles = [], 0
    if block:
        yield score_block(predictor, genome, block, **kw)
        bar.update(len(block))
    bar.close()
    checker.report()


class _ContigChecker:
    """Collects contigs missing from the FASTA and warns once, with a chr-prefix hint."""

    def __init__(self, genome: Genome, vcf: Any, rename: str | None) -> None:
        self.genome, self.vcf, self.rename = genome, vcf, rename
        self.missing: dict[str, int] = {}

    def see(self, rec: VcfRecord) -> None:
        if rec.chrom not in self.genome.lengths:
            self.missing[rec.chrom] = self.missing.get(rec.chrom, 0) + 1

    def report(self) -> None:
        if not self.missing:
            return
        import warnings

        names = list(self.missing)
        hint = naming_hint(names, self.genome.contigs)
        if hint:
            flag = "remove-chr" if names[0].startswith("chr") else "add-chr"
            hint += f"; or pass --rename-contigs {flag}"
        n = sum(self.missing.values())
        warnings.warn(f"{self.vcf}: {n} record(s) on contig(s) absent from the FASTA "
                      f"({', '.join(names[:5])}) have status unknown_contig{hint}", DanQWarning, stacklevel=2)


# --------------------------------------------------------------------------- summary table


def summary_table(batch: VariantBatch, targets: pd.DataFrame, selected: np.ndarray) -> pd.DataFrame:
    """The batch table + max_abs_diff, top_target and the selected targets' diff columns."""
    table = batch.table.copy()
    absdiff = np.abs(batch.diff)
    has = ~np.isnan(absdiff).all(axis=1) if absdiff.shape[1] else np.zeros(len(table), bool)
    top = np.where(has, np.nanargmax(np.where(np.isnan(absdiff), -1, absdiff), axis=1), -1) if len(table) else []
    names = targets["name"].to_numpy()
    table["max_abs_diff"] = np.where(has, absdiff.max(axis=1, initial=0, where=~np.isnan(absdiff)), np.nan)
    table["top_target"] = [names[t] if t >= 0 else "" for t in top]
    cols = {f"diff_{names[j]}": batch.diff[:, j] for j in selected}
    return pd.concat([table, pd.DataFrame(cols, index=table.index)], axis=1)


def score_variants(model: ModelLike, fasta: str | os.PathLike | Genome, vcf: str | os.PathLike, *,
                   targets: list[str] | str | None = None, target_class: list[str] | str | None = None,
                   **kwargs: Any) -> pd.DataFrame:
    """Score every ALT allele of a VCF; returns one row per allele.

    Columns: chrom, pos, id, ref, alt, status, max_abs_diff, top_target, then ``diff_<name>``
    for the selected targets (all by default). Keyword arguments are those of
    `iter_variant_scores`. For huge VCFs use `iter_variant_scores` or `write_variant_scores`.
    """
    from danq_pipeline.predictor import as_predictor

    predictor = as_predictor(model, **{k: kwargs.pop(k) for k in ("device", "precision", "rc_average")
                                       if k in kwargs})
    names = predictor.model.targets
    selected = select_targets(names, targets, target_class)
    frames = [summary_table(b, names, selected) for b in iter_variant_scores(predictor, fasta, vcf, **kwargs)]
    if not frames:
        return summary_table(empty_batch(len(names)), names, selected)
    return pd.concat(frames, ignore_index=True)


def empty_batch(n_targets: int) -> VariantBatch:
    """A batch with no rows."""
    empty = np.zeros((0, n_targets), dtype=np.float32)
    return VariantBatch(pd.DataFrame(columns=list(TABLE_COLUMNS)), empty, empty, empty, empty, [])
