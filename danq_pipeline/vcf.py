"""Reading VCF/VCF.gz/BCF files: records, contig renaming, scatter chunks, contig checks. No torch.

Every record keeps its 0-based index and (text files) its line number, so every error names
``file:line``; `read_vcf` streams records `start` to `stop` for the K-th of N scatter chunks.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from danq_pipeline.errors import DanQError, DanQWarning, located
from danq_pipeline.genome import Genome, naming_hint, open_text

_BASES_ANY_CASE_RE = re.compile(r"[ACGTNacgtn]+")


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
        raise located(
            path,
            None,
            f"not a readable VCF/BCF file ({err})",
            "give a VCF, bgzipped VCF or BCF with a #CHROM header line",
        ) from None


def _is_plain_gzip(path: Path) -> bool:
    """True for a gzip file that is not BGZF (no 'BC' extra subfield in its first block header)."""
    with open(path, "rb") as fh:
        head = fh.read(14)
    is_gzip = head[:2] == b"\x1f\x8b"
    is_bgzf = len(head) == 14 and head[3] & 4 and head[12:14] == b"BC"
    return is_gzip and not is_bgzf


def _plain_gzip_error(path: Path) -> DanQError:
    """The one-line error for a VCF compressed with plain gzip (htslib needs BGZF)."""
    return located(
        path,
        None,
        "gzip-compressed but not BGZF",
        f"recompress it with `zcat {path.name} | bgzip > variants.vcf.gz` or decompress it",
    )


def count_records(path: str | os.PathLike) -> int:
    """Number of records in a VCF (one streaming pass)."""
    return sum(1 for _ in read_vcf(path, keep_text=False))


def read_vcf(
    path: str | os.PathLike,
    *,
    rename_contigs: str | None = None,
    keep_text: bool = True,
    start: int = 0,
    stop: int | None = None,
) -> Iterator[VcfRecord]:
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
                raise located(
                    path,
                    where,
                    _diagnose(path, line) if line else f"malformed record {index + 1} ({err})",
                    "fix or remove the record (bcftools view can re-export the file)",
                ) from None
            if index >= start:
                yield _record(rec, index, line, rename_contigs, keep_text)
            index += 1
    finally:
        vf.close()


def _record(
    rec: Any, index: int, line: int | None, rename: str | None, keep_text: bool
) -> VcfRecord:
    """A VcfRecord from a pysam VariantRecord; REF and base-letter ALTs upper-cased (symbolic ALTs kept)."""
    alts = tuple(a.upper() if _BASES_ANY_CASE_RE.fullmatch(a) else a for a in rec.alts or (".",))
    return VcfRecord(
        chrom=rename_contig(rec.chrom, rename),
        vcf_chrom=rec.chrom,
        pos=int(rec.pos),
        id=rec.id or ".",
        ref=(rec.ref or "").upper(),
        alts=alts,
        line=line,
        index=index,
        text=str(rec) if keep_text else "",
    )


# --------------------------------------------------------------------------- chunks


def parse_chunk(chunk: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """'K/N' -> (K, N) with 1 <= K <= N."""
    if chunk is None or isinstance(chunk, tuple):
        return chunk
    m = re.fullmatch(r"(\d+)/(\d+)", str(chunk).strip())
    if not m or not (1 <= int(m.group(1)) <= int(m.group(2))):
        raise DanQError(
            f"`chunk` {chunk!r}: expected K/N with 1 <= K <= N, e.g. 2/8", params="chunk"
        )
    return int(m.group(1)), int(m.group(2))


def chunk_bounds(n_records: int, chunk: tuple[int, int] | None) -> tuple[int, int | None]:
    """Record range [start, stop) of the K-th of N contiguous blocks."""
    if chunk is None:
        return 0, None
    k, n = chunk
    return (k - 1) * n_records // n, k * n_records // n


class ContigChecker:
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
        warnings.warn(
            f"{self.vcf}: {n} record(s) on contig(s) absent from the FASTA "
            f"({', '.join(names[:5])}) have status unknown_contig{hint}",
            DanQWarning,
            stacklevel=2,
        )
