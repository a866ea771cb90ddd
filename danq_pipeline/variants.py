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
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import pandas as pd

from danq_pipeline._io import ensure_writable, file_digest
from danq_pipeline.background import (
    DEFAULT_MEASURE,
    DEFAULT_SAMPLE_SIZE,
    DEFAULT_TAIL_SIZE,
    Background,
    BackgroundBuilder,
    BackgroundCheck,
    effect_size,
    model_checksum,
    read_background,
    write_background,
)
from danq_pipeline.encode import N_CODE, decode
from danq_pipeline.errors import DanQError, DanQWarning, located
from danq_pipeline.genome import Genome
from danq_pipeline.targets import select_targets
from danq_pipeline.training_defaults import DEFAULT_PRECISION
from danq_pipeline.variant_io import (
    DEFAULT_MAX_COLUMNS,
    STATUSES,
    TABLE_COLUMNS,
    VariantBatch,
    VariantWriter,
    chunk_text,
    count_statuses,
    empty_batch,
    output_paths,
    summary_table,
)
from danq_pipeline.vcf import (
    ContigChecker,
    VcfRecord,
    chunk_bounds,
    count_records,
    open_vcf,
    parse_chunk,
    read_vcf,
)

if TYPE_CHECKING:  # torch stays a lazy import here
    from danq_pipeline.model import TrainedModel
    from danq_pipeline.predictor import Predictor

ModelLike = Union[str, os.PathLike, "TrainedModel", "Predictor"]

_BASES_RE = re.compile(r"^[ACGTN]+$")
_LOGIT_EPS = 1e-12


def variant_window(pos: int, window: int) -> tuple[int, int]:
    """0-based half-open window [start, end) of `window` bp for the 1-based VCF position `pos`.

    The base at VCF POS (0-based ``pos - 1``) sits at window index ``window // 2 - 1``.
    """
    start = (pos - 1) - (window // 2 - 1)
    return start, start + window


def alt_offset(window: int, ref_len: int, alt_len: int) -> int:
    """Index of the ALT allele's first base in the ALT window (re-centred for indels)."""
    return window // 2 - 1 + (ref_len - alt_len) // 2


@dataclass
class AlleleWindows:
    """Statuses of a record's ALT alleles, and the windows of the `ok` ones (uint8 codes)."""

    statuses: list[str]
    ref: np.ndarray | None = None
    alts: dict[int, np.ndarray] = field(default_factory=dict)


# --------------------------------------------------------------------------- windows


def allele_windows(
    genome: Genome, rec: VcfRecord, window: int, max_n_fraction: float
) -> AlleleWindows:
    """Check a record against the genome and build its REF window and the ok ALT windows."""
    n = len(rec.alts)
    if rec.chrom not in genome.lengths:
        return AlleleWindows(["unknown_contig"] * n)
    (start, end), r = variant_window(rec.pos, window), len(rec.ref)
    p0 = rec.pos - 1  # 0-based first REF base
    if p0 < 0 or p0 + r > genome.lengths[rec.chrom] or r == 0:
        return AlleleWindows(["out_of_bounds"] * n)
    ok_alt = [
        _BASES_RE.match(a.upper()) is not None and max(len(a), r) <= window // 2 for a in rec.alts
    ]
    offsets = [alt_offset(window, r, len(a)) for a in rec.alts]
    lo = min([start] + [p0 - o for o, good in zip(offsets, ok_alt, strict=True) if good])
    hi = max(
        [end]
        + [
            p0 + r + window - o - len(a)
            for o, a, good in zip(offsets, rec.alts, ok_alt, strict=True)
            if good
        ]
    )
    codes = genome.fetch_codes(rec.chrom, lo, hi, pad=True)
    ref_ok = decode(codes[p0 - lo : p0 - lo + r]) == re.sub(r"[^ACGT]", "N", rec.ref)
    ref_win = codes[start - lo : end - lo]
    out = AlleleWindows([], ref=ref_win)
    ref_n_rich = np.count_nonzero(ref_win == N_CODE) > max_n_fraction * window
    for i, alt in enumerate(rec.alts):
        if not ok_alt[i]:
            out.statuses.append("unsupported_allele")
            continue
        if (
            alt.upper() == rec.ref.upper()
        ):  # a no-change allele: a malformed record, not a zero effect
            out.statuses.append("ref_equals_alt")
            continue
        if not ref_ok:
            out.statuses.append("ref_mismatch")
            continue
        win = _alt_window(codes, lo, p0, r, alt.upper(), offsets[i], window)
        if ref_n_rich or np.count_nonzero(win == N_CODE) > max_n_fraction * window:
            out.statuses.append("n_rich")
            continue
        out.statuses.append("ok")
        out.alts[i] = win
    return out


def _alt_window(
    codes: np.ndarray, lo: int, p0: int, ref_len: int, alt: str, offset: int, window: int
) -> np.ndarray:
    """ALT window: genome left flank, ALT allele at `offset`, genome right flank (after REF)."""
    from danq_pipeline.encode import encode

    left = codes[p0 - offset - lo : p0 - lo]
    right_len = window - offset - len(alt)
    right = codes[p0 + ref_len - lo : p0 + ref_len - lo + right_len]
    return np.concatenate([left, encode(alt), right])


# --------------------------------------------------------------------------- scoring


def _logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) with p clipped away from 0 and 1."""
    p = np.clip(p, _LOGIT_EPS, 1 - _LOGIT_EPS)
    return np.log(p) - np.log1p(-p)


def score_block(
    predictor: Predictor,
    genome: Genome,
    records: list[VcfRecord],
    *,
    max_n_fraction: float,
    shared: bool = True,
    strict: bool = False,
    vcf_path: Any = None,
) -> VariantBatch:
    """Score a block of records (every ALT allele gets a row; only ok rows are computed)."""
    window, n_targets = predictor.window, predictor.n_targets
    rows, refs, alts, alt_ref, spans, alt_rows, ref_of_row = [], [], [], [], [], [], []
    for rec in records:
        aw = allele_windows(genome, rec, window, max_n_fraction)
        if strict and "ref_mismatch" in aw.statuses:
            have = genome.fetch(rec.chrom, rec.pos - 1, rec.pos - 1 + len(rec.ref))
            raise located(
                vcf_path,
                rec.line,
                f"REF {rec.ref} does not match the FASTA ({have}) at {rec.vcf_chrom}:{rec.pos}",
                "check the genome build, or drop --strict to report it as a status",
            )
        if aw.alts:
            refs.append(aw.ref)
        c = window // 2 - 1
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
        p_ref, p_alt = predictor.allele_probabilities(
            np.stack(refs), np.stack(alts), np.array(alt_ref), spans, shared=shared
        )
        ref_p[alt_rows] = p_ref[ref_of_row]
        alt_p[alt_rows] = p_alt
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    diff = alt_p - ref_p
    logodds = _logit(alt_p) - _logit(ref_p)
    f32 = np.float32
    return VariantBatch(
        table, ref_p.astype(f32), alt_p.astype(f32), diff.astype(f32), logodds.astype(f32), records
    )


def iter_variant_scores(
    model: ModelLike,
    fasta: str | os.PathLike | Genome,
    vcf: str | os.PathLike,
    *,
    batch_size: int = 128,
    rc_average: bool = True,
    max_n_fraction: float = 0.1,
    strict: bool = False,
    rename_contigs: str | None = None,
    chunk: str | tuple[int, int] | None = None,
    device: str | None = "auto",
    precision: str = DEFAULT_PRECISION,
    index_dir: str | os.PathLike | None = None,
    keep_text: bool = False,
    shared: bool = True,
    progress: bool = True,
    progress_interval_s: float = 30.0,
) -> Iterator[VariantBatch]:
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
    checker = ContigChecker(genome, vcf, rename_contigs)
    kw = dict(max_n_fraction=max_n_fraction, shared=shared, strict=strict, vcf_path=vcf)
    bar = Progress(
        None if stop is None else stop - start,
        desc="score-variants",
        unit="records",
        enabled=progress,
        interval_s=progress_interval_s,
    )
    block: list[VcfRecord] = []
    n_alleles = 0
    for rec in read_vcf(
        vcf, rename_contigs=rename_contigs, keep_text=keep_text, start=start, stop=stop
    ):
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


def score_variants(
    model: ModelLike,
    fasta: str | os.PathLike | Genome,
    vcf: str | os.PathLike,
    *,
    targets: list[str] | str | None = None,
    target_class: list[str] | str | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Score every ALT allele of a VCF; returns one row per allele.

    Columns: chrom, pos, id, ref, alt, status, max_abs_diff, top_target, then ``diff_<name>``
    for the selected targets (all by default). Keyword arguments are those of
    `iter_variant_scores`. For huge VCFs use `iter_variant_scores` or `write_variant_scores`.
    """
    from danq_pipeline.predictor import predictor_from_kwargs

    predictor = predictor_from_kwargs(model, kwargs)
    names = predictor.model.targets
    selected = select_targets(names, targets, target_class)
    frames = [
        summary_table(b, names, selected)
        for b in iter_variant_scores(predictor, fasta, vcf, **kwargs)
    ]
    if not frames:
        return summary_table(empty_batch(len(names)), names, selected)
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------- driver


def write_variant_scores(
    model: ModelLike,
    fasta: str | os.PathLike,
    vcf: str | os.PathLike,
    out_prefix: str | os.PathLike,
    *,
    targets: list[str] | str | None = None,
    target_class: list[str] | str | None = None,
    write_vcf: bool = True,
    background: str | os.PathLike | None = None,
    **kwargs: Any,
) -> dict[str, int]:
    """Score a VCF and write PREFIX.tsv, PREFIX.h5 and PREFIX.vcf.gz (+ .tbi); returns status counts.

    `targets` / `target_class` choose the TSV and VCF INFO columns (the HDF5 holds all
    targets). Without a choice, models of up to `DEFAULT_MAX_COLUMNS` targets show all of
    them; larger ones (919 for DeepSEA/DanQ) show only the summary columns, with a note on
    stderr, so the TSV stays a table one can open. `background` (a `danq background` HDF5 of
    this model) adds per-target p-values and a combined p per allele (docs/formats.md). Other
    keyword arguments go to `iter_variant_scores`.
    """
    from danq_pipeline.predictor import predictor_from_kwargs

    ensure_writable(output_paths(out_prefix)["tsv"], "out_prefix")
    predictor = predictor_from_kwargs(model, kwargs)
    model_obj = predictor.model
    genome = Genome(fasta, index_dir=kwargs.pop("index_dir", None))
    selected = select_targets(model_obj.targets, targets, target_class)
    if not targets and not target_class and len(selected) > DEFAULT_MAX_COLUMNS:
        import warnings

        selected = selected[:0]
        warnings.warn(
            f"the model has {len(model_obj.targets)} targets: the TSV and VCF show only max_abs_diff "
            "and top_target; choose per-target columns with --targets NAME,... or --target-class "
            "DNase,TF,histone (the HDF5 holds all targets)",
            DanQWarning,
            stacklevel=2,
        )
    bg = check = None
    if background:
        bg = read_background(background)
        check = BackgroundCheck(bg, background, model_obj, rc_average=predictor.rc_average)
    with open_vcf(vcf) as vf:
        header = str(vf.header) if write_vcf else None
    attrs = {
        "model": str(model) if isinstance(model, (str, os.PathLike)) else type(model).__name__,
        "fasta": str(fasta),
        "vcf": str(vcf),
        "window": model_obj.window,
        "precision": predictor.precision,
        "rc_average": predictor.rc_average,
        "chunk": chunk_text(kwargs.get("chunk")),
        "window_convention": "first REF base at 0-based index window//2 - 1; ALT re-centred: "
        "window//2 - 1 + floor((len(REF) - len(ALT)) / 2)",
    }
    if bg is not None:
        attrs.update(
            background=str(background),
            background_vcf_checksum=str(bg.attrs.get("vcf_checksum", "")),
            background_measure=bg.measure,
            background_n=int(bg.n),
            combined_method=str(bg.attrs.get("combined_method", "")),
        )
    counts = {s: 0 for s in STATUSES}
    with VariantWriter(
        out_prefix,
        model_obj.targets,
        selected,
        header,
        attrs,
        genome.lengths,
        background=bg,
        check=check,
    ) as writer:
        for batch in iter_variant_scores(predictor, genome, vcf, keep_text=write_vcf, **kwargs):
            writer.write(batch)
            count_statuses(counts, batch)
    return counts


def build_background(
    model: ModelLike,
    fasta: str | os.PathLike,
    vcf: str | os.PathLike,
    out: str | os.PathLike,
    *,
    measure: str = DEFAULT_MEASURE,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    tail_size: int = DEFAULT_TAIL_SIZE,
    seed: int = 0,
    **kwargs: Any,
) -> Background:
    """Score a background VCF and write its per-target effect null to `out` (HDF5); return it.

    Streams like score-variants (same windows, strand averaging and batching; keyword
    arguments go to `iter_variant_scores`); only `ok` alleles enter the null. A
    background without any ok allele is refused (nothing is written).
    """
    from danq_pipeline.predictor import predictor_from_kwargs

    ensure_writable(out, "out")
    effect_size(
        np.zeros((0, 0)), np.zeros((0, 0)), measure
    )  # refuse an unknown measure before scoring
    predictor = predictor_from_kwargs(model, kwargs)
    model_obj = predictor.model
    builder = BackgroundBuilder(
        len(model_obj.targets), sample_size=sample_size, tail_size=tail_size, seed=seed
    )
    counts = {s: 0 for s in STATUSES}
    for batch in iter_variant_scores(predictor, fasta, vcf, **kwargs):
        ok = (batch.table["status"] == "ok").to_numpy()
        builder.add(effect_size(batch.diff[ok], batch.logodds[ok], measure))
        count_statuses(counts, batch)
    if builder.n == 0:
        seen = ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "no records"
        raise DanQError(
            f"{vcf}: no background allele could be scored ({seen}); give a VCF of the "
            "FASTA's build with scorable SNVs (see the status column of score-variants)"
        )
    attrs = {
        "model": str(model) if isinstance(model, (str, os.PathLike)) else type(model).__name__,
        "model_checksum": model_checksum(model_obj),
        "vcf": str(vcf),
        "vcf_checksum": file_digest(vcf),
        "fasta": str(fasta),
        "window": model_obj.window,
        "rc_average": predictor.rc_average,
        "status_counts": counts,
        "sample_size": sample_size,
        "tail_size": tail_size,
        "seed": seed,
    }
    bg = builder.finish(measure, model_obj.targets, attrs)
    write_background(bg, out)
    return bg
