"""Writers for variant scores: PREFIX.tsv, PREFIX.h5 and PREFIX.vcf.gz (+ .tbi), and their gather.

All three are written under temporary names (``.part``) and renamed when complete. Rows of
the TSV, rows of every HDF5 matrix and the ALT alleles of the VCF (in record order, then ALT
order) are the same alleles in the same order. Formats: docs/formats.md, "Variant scores".
"""

from __future__ import annotations

import gzip
import json
import os
import queue
import re
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import numpy as np
import pandas as pd

from danq_pipeline import __version__
from danq_pipeline._io import atomic_path
from danq_pipeline.background import Background, BackgroundCheck, Significance
from danq_pipeline.errors import DanQError
from danq_pipeline.targets import read_targets_h5, write_targets_h5
from danq_pipeline.vcf import VcfRecord, parse_chunk

FORMAT = "danq-variant-scores"
FORMAT_VERSION = 1
_STR = h5py.string_dtype("utf-8")
DEFAULT_MAX_COLUMNS = 64
MATRICES = ("ref_prob", "alt_prob", "diff", "logodds")
TABLE_STR = ("chrom", "id", "ref", "alt", "status", "top_target")
# statuses in the order they are checked (the first that applies wins)
STATUSES = (
    "ok",
    "unknown_contig",
    "out_of_bounds",
    "unsupported_allele",
    "ref_equals_alt",
    "ref_mismatch",
    "n_rich",
)
TABLE_COLUMNS = ("chrom", "pos", "id", "ref", "alt", "status")


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


SIGNIFICANCE = ("pvalue", "variants/combined_p", "variants/top_p_targets")  # with --background only


def output_paths(prefix: str | os.PathLike) -> dict[str, Path]:
    """The three output files of a prefix."""
    p = str(prefix)
    return {"tsv": Path(p + ".tsv"), "h5": Path(p + ".h5"), "vcf": Path(p + ".vcf.gz")}


def info_key(name: str, prefix: str = "DANQ_DIFF_") -> str:
    """A VCF INFO key for a target's diff: DANQ_DIFF_<name with unsafe characters as _>."""
    return prefix + re.sub(r"[^0-9A-Za-z_.]", "_", name)


class VariantWriter:
    """Stream VariantBatch objects into PREFIX.tsv, PREFIX.h5 and PREFIX.vcf.gz.

    Parameters
    ----------
    prefix : path-like
        Output prefix; parent folders are created.
    targets : pandas.DataFrame
        The model's target table (id, name, class, source); the HDF5 holds all of them.
    selected : numpy.ndarray of int
        Target columns shown in the TSV and in the VCF INFO.
    vcf_header : str
        The input VCF header text (## lines and #CHROM line); None skips the VCF output.
    attrs : dict
        Provenance stored as HDF5 attributes (model, fasta, vcf, options).
    """

    def __init__(
        self,
        prefix: str | os.PathLike,
        targets: pd.DataFrame,
        selected: np.ndarray,
        vcf_header: str | None,
        attrs: dict[str, Any],
        contigs: dict[str, int],
        background: Background | None = None,
        check: BackgroundCheck | None = None,
    ) -> None:
        self.background, self._check = background, check
        self.paths = output_paths(prefix)
        self.paths["tsv"].parent.mkdir(parents=True, exist_ok=True)
        self.targets, self.selected = targets, np.asarray(selected, dtype=int)
        self.n_rows = 0
        self._out = {k: atomic_path(self.paths[k]) for k in ("tsv", "h5")}  # renamed in close()
        self._tsv = open(self._out["tsv"].tmp, "w")
        self._h5 = _create_h5(self._out["h5"].tmp, targets, attrs)
        if background is not None:
            _create_significance_h5(self._h5, len(targets))
        self._vcf_header = vcf_header
        self._contigs = contigs
        self._seen_contigs: dict[str, None] = {}
        self._body_path = self.paths["vcf"].with_name(self.paths["vcf"].name + ".body")
        self._body = open(self._body_path, "w") if vcf_header is not None else None
        self._error: BaseException | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._thread = threading.Thread(target=self._drain, name="variant-writer", daemon=True)
        self._thread.start()

    def write(self, batch: VariantBatch) -> None:
        """Queue one batch; a writer thread appends it to all outputs while the model runs on.

        The queue holds at most two batches, so memory stays flat; a writer error is raised
        here or at `close`.
        """
        if self._error is not None:
            raise self._error
        if self._check is not None:  # the background's model check ran beside the first model call
            self._check.wait()
        self._queue.put(batch)

    def _drain(self) -> None:
        """Writer thread: append queued batches until the None sentinel."""
        while (batch := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._write_now(batch)
                except BaseException as err:  # re-raised in the main thread
                    self._error = err

    def _write_now(self, batch: VariantBatch) -> None:
        """Append one batch to the TSV, the HDF5 and the VCF body."""
        table = summary_table(batch, self.targets, self.selected)
        sig = None
        if (
            self.background is not None
        ):  # here, in the writer thread, the look-ups overlap the model
            sig = self.background.significance(batch.diff, batch.logodds)
            names = self.targets["name"].to_numpy()
            table = pd.concat(
                [table, sig.columns(names, self.selected).set_index(table.index)], axis=1
            )
        table.to_csv(
            self._tsv,
            sep="\t",
            index=False,
            header=self.n_rows == 0,
            na_rep="NA",
            float_format="%.6g",
        )
        _append_h5(self._h5, table, batch)
        if sig is not None:
            _append_significance_h5(self._h5, sig)
        if self._body is not None:
            self._write_vcf_records(table, batch, sig)
        self.n_rows += len(table)

    def _write_vcf_records(
        self, table: pd.DataFrame, batch: VariantBatch, sig: Significance | None = None
    ) -> None:
        """Write the batch's records with DANQ_* INFO fields (Number=A: one value per ALT allele).

        A record without ALT (ALT '.') has no ALT allele to annotate and keeps its INFO as it is.
        """
        names = self.targets["name"].to_numpy()
        status = table["status"].tolist()
        maxdiff = [_num(v) for v in table["max_abs_diff"].to_numpy()]
        top = [_safe(v) or "." for v in table["top_target"].tolist()]
        diffs = {info_key(names[j]): [_num(v) for v in batch.diff[:, j]] for j in self.selected}
        if sig is not None:
            diffs["DANQ_COMBINED_P"] = [_num(v) for v in sig.combined_p]
            diffs["DANQ_TOP_P_TARGETS"] = [_safe(v) or "." for v in sig.top_p_targets]
            diffs.update(
                {
                    info_key(names[j], "DANQ_P_"): [_num(v) for v in sig.pvalue[:, j]]
                    for j in self.selected
                }
            )
        row = 0
        for rec in batch.records:
            n = len(rec.alts)
            fields = {
                "DANQ_STATUS": status[row : row + n],
                "DANQ_MAX_ABS_DIFF": maxdiff[row : row + n],
                "DANQ_TOP_TARGET": top[row : row + n],
            }
            fields.update({k: v[row : row + n] for k, v in diffs.items()})
            self._body.write(_annotate(rec.text, fields if rec.alts != (".",) else {}))
            self._seen_contigs.setdefault(rec.vcf_chrom)
            row += n

    def close(self, ok: bool = True) -> None:
        """Finish all files and rename them to their final names (or delete them when not ok)."""
        self._queue.put(None)
        self._thread.join()
        if ok and self._check is not None and self._error is None:
            try:  # a background of another model: nothing may reach a final name
                self._check.wait()
            except DanQError as err:
                self._error = err
        ok = ok and self._error is None
        self._tsv.close()
        self._h5.attrs["n_rows"] = self.n_rows
        self._h5.close()
        if self._body is not None:
            self._body.close()
        if not ok:
            for out in self._out.values():
                out.discard()
            self._body_path.unlink(missing_ok=True)
            if self._error is not None:
                raise self._error
            return
        if self.n_rows == 0:
            self._tsv = open(self._out["tsv"].tmp, "w")
            columns = list(
                summary_table(_no_rows(len(self.targets)), self.targets, self.selected).columns
            )
            if self.background is not None:
                names = self.targets["name"].to_numpy()
                columns += [
                    "combined_p",
                    "min_p",
                    "top_p_targets",
                    *(f"p_{names[j]}" for j in self.selected),
                ]
            self._tsv.write("\t".join(columns) + "\n")
            self._tsv.close()
        for out in self._out.values():
            out.commit()
        if self._body is not None:
            header = vcf_header_with_info(
                self._vcf_header,
                self.targets,
                self.selected,
                self._contigs,
                list(self._seen_contigs),
                significance=self.background is not None,
            )
            write_bgzip_vcf(header, [self._body_path], self.paths["vcf"])
            self._body_path.unlink(missing_ok=True)

    def __enter__(self) -> VariantWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(ok=exc_type is None)


def _no_rows(n_targets: int) -> VariantBatch:
    return empty_batch(n_targets)


def _num(v: float) -> str:
    """A float for a VCF INFO value ('.' for NaN)."""
    return "." if v != v else f"{v:.4g}"


def _safe(v: str) -> str:
    """A string usable inside a VCF INFO value."""
    return re.sub(r"[,;=\s]", "_", str(v))


def _annotate(text: str, fields: dict[str, list[str]]) -> str:
    """Append INFO fields to a VCF record line (none: the line unchanged)."""
    cols = text.rstrip("\n").split("\t")
    extra = ";".join(f"{k}={','.join(v)}" for k, v in fields.items())
    if extra:
        cols[7] = extra if cols[7] in (".", "") else f"{cols[7]};{extra}"
    return "\t".join(cols) + "\n"


# --------------------------------------------------------------------------- HDF5


def _create_h5(path: Path, targets: pd.DataFrame, attrs: dict[str, Any]) -> h5py.File:
    """Create the scores HDF5 with empty, growable datasets."""
    h5 = h5py.File(path, "w")
    n_t = len(targets)
    for name in MATRICES:
        h5.create_dataset(
            name,
            (0, n_t),
            maxshape=(None, n_t),
            dtype="f4",
            chunks=(256, max(n_t, 1)),
            compression="gzip",
            compression_opts=1,
            shuffle=True,
        )
    v = h5.create_group("variants")
    for col in TABLE_STR:
        v.create_dataset(col, (0,), maxshape=(None,), dtype=_STR, chunks=(4096,))
    v.create_dataset("pos", (0,), maxshape=(None,), dtype="i8", chunks=(4096,))
    v.create_dataset("max_abs_diff", (0,), maxshape=(None,), dtype="f4", chunks=(4096,))
    write_targets_h5(h5, targets)
    base = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "statuses": list(STATUSES),
    }
    for key, value in {**base, **attrs}.items():
        h5.attrs[key] = (
            json.dumps(value) if isinstance(value, (dict, list, tuple)) or value is None else value
        )
    return h5


def _append(ds: h5py.Dataset, values: np.ndarray) -> None:
    n = ds.shape[0]
    ds.resize(n + len(values), axis=0)
    ds[n:] = values


def _append_h5(h5: h5py.File, table: pd.DataFrame, batch: VariantBatch) -> None:
    """Append a batch's matrices and table columns."""
    for name in MATRICES:
        _append(h5[name], getattr(batch, name))
    for col in TABLE_STR:
        _append(h5["variants"][col], np.array(table[col].astype(str).tolist(), dtype=object))
    _append(h5["variants/pos"], table["pos"].to_numpy(dtype=np.int64))
    _append(h5["variants/max_abs_diff"], table["max_abs_diff"].to_numpy(dtype=np.float32))


def _create_significance_h5(h5: h5py.File, n_t: int) -> None:
    """The --background datasets: /pvalue (V, T), /variants/combined_p and top_p_targets (V,)."""
    # not compressed: p-values' mantissas are noise to gzip (measured: it halved the writer's speed)
    h5.create_dataset(
        "pvalue", (0, n_t), maxshape=(None, n_t), dtype="f4", chunks=(256, max(n_t, 1))
    )
    h5["variants"].create_dataset("combined_p", (0,), maxshape=(None,), dtype="f4", chunks=(4096,))
    h5["variants"].create_dataset(
        "top_p_targets", (0,), maxshape=(None,), dtype=_STR, chunks=(4096,)
    )


def _append_significance_h5(h5: h5py.File, sig: Significance) -> None:
    _append(h5["pvalue"], sig.pvalue)
    _append(h5["variants/combined_p"], sig.combined_p)
    _append(h5["variants/top_p_targets"], np.array(sig.top_p_targets, dtype=object))


def read_variant_scores(path: str | os.PathLike) -> dict[str, Any]:
    """Read a scores HDF5 back: {'table': DataFrame, 'targets': DataFrame, matrices..., 'attrs': dict}."""
    path = Path(path)
    try:
        h5 = h5py.File(path, "r")
    except OSError:
        raise DanQError(f"{path}: not a readable HDF5 file; re-run danq score-variants") from None
    with h5:
        if h5.attrs.get("format") != FORMAT:
            raise DanQError(
                f"{path}: not a danq variant-scores HDF5 (format={h5.attrs.get('format')!r})"
            )
        v = h5["variants"]
        table = pd.DataFrame({c: v[c].asstr()[:] for c in ("chrom",)})
        table["pos"] = v["pos"][:]
        for c in ("id", "ref", "alt", "status"):
            table[c] = v[c].asstr()[:]
        table["max_abs_diff"] = v["max_abs_diff"][:]
        table["top_target"] = v["top_target"].asstr()[:]
        out = {"table": table, "attrs": dict(h5.attrs)}
        out["targets"] = read_targets_h5(h5)
        for name in MATRICES:
            out[name] = h5[name][:]
        if "pvalue" in h5:  # scored with --background
            out["pvalue"] = h5["pvalue"][:]
            table["combined_p"] = v["combined_p"][:]
            table["top_p_targets"] = v["top_p_targets"].asstr()[:]
    return out


# --------------------------------------------------------------------------- VCF


def vcf_header_with_info(
    header: str,
    targets: pd.DataFrame,
    selected: np.ndarray,
    contigs: dict[str, int],
    seen: list[str],
    significance: bool = False,
) -> str:
    """Input header + DANQ_* INFO definitions + contig lines for contigs used but undeclared."""
    lines = header.rstrip("\n").split("\n")
    meta, chrom_line = [ln for ln in lines if ln.startswith("##")], lines[-1]
    declared = {m.group(1) for ln in meta if (m := re.match(r"##contig=<ID=([^,>]+)", ln))}
    extra = [
        f"##contig=<ID={c}" + (f",length={contigs[c]}>" if c in contigs else ">")
        for c in seen
        if c not in declared
    ]
    names = targets["name"].to_numpy()
    info = [
        '##INFO=<ID=DANQ_STATUS,Number=A,Type=String,Description="danq score-variants status per ALT allele: '
        + "|".join(STATUSES)
        + '">',
        '##INFO=<ID=DANQ_MAX_ABS_DIFF,Number=A,Type=Float,Description="Largest |alt - ref| probability '
        'difference over all targets, per ALT allele (strand-averaged unless --no-rc-average)">',
        '##INFO=<ID=DANQ_TOP_TARGET,Number=A,Type=String,Description="Target with the largest |diff|, per ALT allele">',
    ]
    info += [
        f'##INFO=<ID={info_key(names[j])},Number=A,Type=Float,Description="alt - ref probability '
        f'of target {_safe(names[j])}, per ALT allele">'
        for j in selected
    ]
    if significance:
        info += [
            '##INFO=<ID=DANQ_COMBINED_P,Number=A,Type=Float,Description="Combined p-value over all '
            'targets against the --background (minP), per ALT allele">',
            '##INFO=<ID=DANQ_TOP_P_TARGETS,Number=A,Type=String,Description="Targets with the smallest '
            'p-values against the --background, as name:p joined by |, per ALT allele">',
        ]
        info += [
            f'##INFO=<ID={info_key(names[j], "DANQ_P_")},Number=A,Type=Float,Description="p-value of '
            f'the effect on target {_safe(names[j])} against the --background, per ALT allele">'
            for j in selected
        ]
    source = f"##danq_pipeline_scoreVariantsVersion={__version__}"
    return "\n".join(meta + extra + info + [source, chrom_line]) + "\n"


def _contig_order(header: str) -> dict[str, int]:
    """Contig rank from ##contig lines (first seen first)."""
    names = re.findall(r"^##contig=<ID=([^,>]+)", header, flags=re.M)
    return {c: i for i, c in enumerate(dict.fromkeys(names))}


def write_bgzip_vcf(header: str, bodies: Iterable[Path], out: Path) -> None:
    """Write header + record files as a bgzipped VCF with a tabix index, via temp names.

    Records are written in input order; when tabix refuses them (unsorted input), they are
    sorted by contig (header order) and position first.
    """
    import pysam

    plain = out.with_name(out.name + ".tmp.vcf")
    with open(plain, "w") as fh:
        fh.write(header)
        for body in bodies:
            with open(body) as src:
                shutil.copyfileobj(src, fh)
    try:  # the index is renamed first (the inner block ends first), then the VCF
        with atomic_path(out) as part, atomic_path(f"{out}.tbi") as tbi:
            pysam.tabix_compress(str(plain), str(part), force=True)
            try:
                pysam.tabix_index(str(part), preset="vcf", force=True, index=str(tbi))
            except (OSError, ValueError):
                _sort_vcf(plain, header)
                pysam.tabix_compress(str(plain), str(part), force=True)
                pysam.tabix_index(str(part), preset="vcf", force=True, index=str(tbi))
    finally:
        plain.unlink(missing_ok=True)


def _sort_vcf(plain: Path, header: str) -> None:
    """Sort the records of a plain VCF in place by (contig order, POS)."""
    order = _contig_order(header)
    with open(plain) as fh:
        records = [ln for ln in fh if not ln.startswith("#")]
    records.sort(
        key=lambda ln: (
            order.get(ln.split("\t", 1)[0], len(order)),
            ln.split("\t", 1)[0],
            int(ln.split("\t", 2)[1]),
        )
    )
    with open(plain, "w") as fh:
        fh.write(header)
        fh.writelines(records)


# --------------------------------------------------------------------------- gather


def chunk_text(chunk: str | tuple[int, int] | None) -> str:
    """The `chunk` attribute: 'K/N', or '' for a whole-VCF run."""
    parsed = parse_chunk(chunk) if chunk else None
    return f"{parsed[0]}/{parsed[1]}" if parsed else ""


def _read_chunk(h5_path: Path) -> tuple[tuple[int, int] | None, dict[str, Any]]:
    """A chunk output's (K, N) (None for a whole-VCF run) and the attributes that must agree across chunks."""
    try:
        with h5py.File(h5_path, "r") as h5:
            attrs = dict(h5.attrs)
    except OSError:
        raise DanQError(
            f"{h5_path}: not a readable HDF5 file; re-run score-variants for this chunk"
        ) from None
    if attrs.get("format") != FORMAT:
        raise DanQError(
            f"{h5_path}: not a danq variant-scores HDF5; give score-variants output prefixes"
        )
    # 'K/N'; '(K, N)' from files written before the attribute was normalised
    m = re.fullmatch(r"\(?\s*(\d+)\s*[/,]\s*(\d+)\s*\)?", str(attrs.get("chunk", "")))
    same = {
        k: attrs.get(k) for k in ("model", "vcf", "window", "rc_average", "background_vcf_checksum")
    }
    return ((int(m.group(1)), int(m.group(2))) if m else None), same


def _chunk_order(inputs: list[dict[str, Path]]) -> list[dict[str, Path]]:
    """The inputs in chunk order (K of each --chunk K/N), checked to be chunks 1..N of one run.

    A single input may be a whole-VCF run. Each chunk's HDF5 records its K/N (attribute
    `chunk`), so a wrong order is corrected, and a missing, repeated or foreign chunk is an error.
    """
    info = [_read_chunk(p["h5"]) for p in inputs]
    if len(inputs) == 1:
        return inputs
    for paths, (chunk, same) in zip(inputs, info, strict=True):
        if chunk is None:
            raise DanQError(
                f"{paths['h5']}: not the output of a --chunk K/N run; gather only the chunk "
                "outputs of one score-variants run"
            )
        if same != info[0][1]:
            diff = ", ".join(
                f"{k} {info[0][1][k]!r} vs {v!r}" for k, v in same.items() if v != info[0][1][k]
            )
            raise DanQError(
                f"{paths['h5']}: scored with other inputs than {inputs[0]['h5']} ({diff}); "
                "gather chunks of one score-variants run"
            )
    n = info[0][0][1]
    by_k: dict[int, dict[str, Path]] = {}
    for paths, (chunk, _) in zip(inputs, info, strict=True):
        k, n_k = chunk
        if n_k != n:
            raise DanQError(
                f"{paths['h5']}: chunk {k}/{n_k}, but {inputs[0]['h5']} is chunk "
                f"{info[0][0][0]}/{n}; gather the chunks of one --chunk K/N split"
            )
        if k in by_k:
            raise DanQError(
                f"{paths['h5']}: chunk {k}/{n} given twice (also {by_k[k]['h5']}); give each chunk once"
            )
        by_k[k] = paths
    missing = [f"{k}/{n}" for k in range(1, n + 1) if k not in by_k]
    if missing:
        raise DanQError(
            f"--inputs: chunk(s) {', '.join(missing)} missing ({len(by_k)} of {n} given); "
            f"score them with --chunk K/{n} and give all {n} prefixes"
        )
    return [by_k[k] for k in range(1, n + 1)]


def gather_variant_outputs(prefixes: list[str | os.PathLike], out_prefix: str | os.PathLike) -> int:
    """Join the outputs of one run's `--chunk K/N` jobs into one prefix, in chunk order; returns rows.

    The prefixes may come in any order; all N chunks must be there, each once (see `_chunk_order`).
    """
    if not prefixes:
        raise DanQError("gather-variants: no input prefixes given")
    inputs = [output_paths(p) for p in prefixes]
    for paths in inputs:
        for kind in ("tsv", "h5"):
            if not paths[kind].exists():
                raise DanQError(f"{paths[kind]}: missing; run score-variants for this chunk first")
    inputs = _chunk_order(inputs)
    out = output_paths(out_prefix)
    out["tsv"].parent.mkdir(parents=True, exist_ok=True)
    n = _gather_tsv([p["tsv"] for p in inputs], out["tsv"])
    _gather_h5([p["h5"] for p in inputs], out["h5"])
    if all(p["vcf"].exists() for p in inputs):
        _gather_vcf([p["vcf"] for p in inputs], out["vcf"])
    return n


def _gather_tsv(paths: list[Path], out: Path) -> int:
    """Concatenate TSVs with identical headers."""
    n = 0
    with atomic_path(out) as tmp, open(tmp, "w") as dst:
        header = None
        for p in paths:
            with open(p) as src:
                first = src.readline()
                if header is None:
                    header = first
                    dst.write(first)
                elif first != header:
                    raise DanQError(
                        f"{p}: its columns differ from {paths[0]}; score all chunks with the same options"
                    )
                for line in src:
                    dst.write(line)
                    n += 1
    return n


def _gather_h5(paths: list[Path], out: Path) -> None:
    """Concatenate score HDF5 files (targets and attrs from the first; `chunk` '': the whole VCF)."""
    with atomic_path(out) as tmp, h5py.File(paths[0], "r") as first, h5py.File(tmp, "w") as dst:
        for key, value in first.attrs.items():
            dst.attrs[key] = value
        dst.attrs["chunk"] = ""
        first.copy("targets", dst)
        names = [*MATRICES, *(f"variants/{c}" for c in (*TABLE_STR, "pos", "max_abs_diff"))]
        names += [n for n in SIGNIFICANCE if n in first]
        for name in names:
            ds = first[name]
            dst.create_dataset(
                name,
                (0, *ds.shape[1:]),
                maxshape=(None, *ds.shape[1:]),
                dtype=ds.dtype,
                chunks=ds.chunks,
                compression=ds.compression,
                compression_opts=ds.compression_opts,
                shuffle=ds.shuffle,
            )
        total = 0
        for p in paths:
            with h5py.File(p, "r") as src:
                if (
                    src.attrs.get("format") != FORMAT
                    or src["diff"].shape[1] != dst["diff"].shape[1]
                ):
                    raise DanQError(
                        f"{p}: not a variant-scores HDF5 of the same model as {paths[0]}"
                    )
                if ("pvalue" in src) != ("pvalue" in first):
                    raise DanQError(
                        f"{p}: scored {'with' if 'pvalue' in src else 'without'} --background, "
                        f"unlike {paths[0]}; score all chunks with the same options"
                    )
                for name in names:
                    _append(dst[name], src[name][:])
                total += src["diff"].shape[0]
        dst.attrs["n_rows"] = total


def _gather_vcf(paths: list[Path], out: Path) -> None:
    """Concatenate annotated VCFs: header of the first (plus contig lines of the others), records in order."""
    bodies, metas, chrom_line = [], {}, None
    for i, p in enumerate(paths):
        body = out.with_name(f"{out.name}.body{i}")
        with gzip.open(p, "rt") as src, open(body, "w") as dst:
            for line in src:
                if line.startswith("##"):
                    metas.setdefault(line, None)
                elif line.startswith("#"):
                    chrom_line = chrom_line or line
                else:
                    dst.write(line)
        bodies.append(body)
    try:
        write_bgzip_vcf("".join(metas) + chrom_line, bodies, out)
    finally:
        for b in bodies:
            b.unlink(missing_ok=True)


# --------------------------------------------------------------------------- summary table


def summary_table(batch: VariantBatch, targets: pd.DataFrame, selected: np.ndarray) -> pd.DataFrame:
    """The batch table + max_abs_diff, top_target and the selected targets' diff columns."""
    table = batch.table.copy()
    absdiff = np.abs(batch.diff)
    has = ~np.isnan(absdiff).all(axis=1) if absdiff.shape[1] else np.zeros(len(table), bool)
    top = (
        np.where(has, np.nanargmax(np.where(np.isnan(absdiff), -1, absdiff), axis=1), -1)
        if len(table)
        else []
    )
    names = targets["name"].to_numpy()
    table["max_abs_diff"] = np.where(
        has, absdiff.max(axis=1, initial=0, where=~np.isnan(absdiff)), np.nan
    )
    table["top_target"] = [names[t] if t >= 0 else "" for t in top]
    cols = {f"diff_{names[j]}": batch.diff[:, j] for j in selected}
    return pd.concat([table, pd.DataFrame(cols, index=table.index)], axis=1)


def count_statuses(counts: dict[str, int], batch: VariantBatch) -> None:
    """Add the batch's alleles per status to `counts` (status -> n), in place."""
    for status, n in batch.table["status"].value_counts().items():
        counts[status] += int(n)


def empty_batch(n_targets: int) -> VariantBatch:
    """A batch with no rows."""
    empty = np.zeros((0, n_targets), dtype=np.float32)
    return VariantBatch(pd.DataFrame(columns=list(TABLE_COLUMNS)), empty, empty, empty, empty, [])
