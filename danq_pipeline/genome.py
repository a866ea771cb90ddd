"""Genome FASTA access through pyfaidx: plain or BGZF-compressed, soft-masked or not.

`Genome.fetch` returns upper-case strings; `Genome.fetch_codes` returns uint8 base codes
(encode.py), padding with N past contig ends when asked. The .fai/.gzi index is built next
to the FASTA, or in `index_dir` when the FASTA's folder is read-only.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyfaidx

from danq_pipeline.encode import N_CODE, encode
from danq_pipeline.errors import DanQError

# bytes that are neither ACGT nor N (upper case: pyfaidx returns upper case): IUPAC codes etc.
_OTHER = np.ones(256, dtype=bool)
for _b in b"ACGTN":
    _OTHER[_b] = False


class ContigCodes(NamedTuple):
    """A whole contig as uint8 codes plus what reading it revealed."""

    codes: np.ndarray
    n_other: int  # bases other than A, C, G, T, N (IUPAC codes), stored as N
    md5: str  # MD5 of the upper-case sequence (the M5 of a SAM @SQ line / `samtools dict`)


class Genome:
    """Random access to a FASTA; contig names and lengths from its index."""

    def __init__(self, path: str | os.PathLike, index_dir: str | os.PathLike | None = None) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise DanQError(f"{self.path}: no such FASTA file; check the path")
        self._fasta_path = self._indexable_path(index_dir)
        try:
            self._fa = pyfaidx.Fasta(
                str(self._fasta_path),
                as_raw=True,
                sequence_always_upper=True,
                rebuild=False,
                build_index=True,
            )
        except pyfaidx.UnsupportedCompressionFormat:
            raise DanQError(
                f"{self.path}: gzip-compressed but not BGZF; recompress it with "
                f"`zcat {self.path.name} | bgzip > genome.fa.gz` or decompress it"
            ) from None
        except (pyfaidx.FastaIndexingError, ValueError) as err:
            raise DanQError(f"{self.path}: not a valid FASTA ({err}); check the file") from None
        self.lengths: dict[str, int] = {name: len(rec) for name, rec in self._fa.records.items()}

    def _indexable_path(self, index_dir: str | os.PathLike | None) -> Path:
        """The FASTA path pyfaidx should open: the original, or a link in a writable index dir."""
        writable = os.access(self.path.parent, os.W_OK)
        has_index = self.path.with_name(self.path.name + ".fai").exists()
        if index_dir is None and (writable or has_index):
            return self.path
        if index_dir is None:
            raise DanQError(
                f"{self.path}: the FASTA's folder is read-only and has no .fai index; "
                "pass an index folder (--index-dir) where the index can be written"
            )
        target = Path(index_dir) / self.path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            try:
                target.symlink_to(self.path.resolve())
            except OSError:
                shutil.copyfile(self.path, target)
        return target

    @property
    def contigs(self) -> list[str]:
        """Contig names in FASTA order."""
        return list(self.lengths)

    def check_contig(self, chrom: str, source: str = "input") -> None:
        """Raise a one-line DanQError when `chrom` is absent, suggesting a chr-prefix fix."""
        if chrom in self.lengths:
            return
        hint = naming_hint([chrom], self.contigs)
        raise DanQError(
            f"{source}: contig {chrom!r} is not in the FASTA {self.path.name} "
            f"(FASTA has {', '.join(self.contigs[:5])}{'...' if len(self.contigs) > 5 else ''}){hint}"
        )

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Upper-case sequence of [start, end) (0-based, half-open), clipped to the contig."""
        self.check_contig(chrom)
        start, end = max(0, start), min(end, self.lengths[chrom])
        return self._fa[chrom][start:end] if end > start else ""

    def fetch_codes(self, chrom: str, start: int, end: int, pad: bool = True) -> np.ndarray:
        """Base codes of [start, end); positions past a contig end become N when `pad`."""
        self.check_contig(chrom)
        length = self.lengths[chrom]
        if not pad and (start < 0 or end > length):
            raise DanQError(f"{chrom}:{start}-{end} runs past the contig (length {length})")
        out = np.full(end - start, N_CODE, dtype=np.uint8)
        a, b = max(0, start), min(end, length)
        if b > a:
            out[a - start : b - start] = encode(self._fa[chrom][a:b])
        return out

    def contig_codes(self, chrom: str) -> np.ndarray:
        """A whole contig as uint8 codes (1 byte per base; one contig at a time, never the genome)."""
        return self.fetch_codes(chrom, 0, self.lengths[chrom])

    def read_contig(self, chrom: str, chunk: int = 1 << 24) -> ContigCodes:
        """Read a whole contig in `chunk`-bp pieces into uint8 codes (1 byte per base).

        Never builds the contig as one Python string; counts non-ACGTN (IUPAC) bases and
        computes the MD5 of the upper-case sequence on the way.
        """
        self.check_contig(chrom)
        length = self.lengths[chrom]
        out = np.empty(length, dtype=np.uint8)
        md5, n_other = hashlib.md5(), 0
        for a in range(0, length, chunk):
            raw = self._read_chunk(chrom, a, min(a + chunk, length))
            md5.update(raw)
            arr = np.frombuffer(raw, dtype=np.uint8)
            n_other += int(_OTHER[arr].sum())
            out[a : a + len(arr)] = encode(raw)
        return ContigCodes(out, n_other, md5.hexdigest())

    def _read_chunk(self, chrom: str, a: int, b: int) -> bytes:
        """Bytes of [a, b), checking that the FASTA still matches its index."""
        try:
            raw = self._fa[chrom][a:b].encode("ascii")
        except (pyfaidx.FetchError, ValueError, OSError, UnicodeEncodeError) as err:
            raise DanQError(
                f"{self.path}: cannot read {chrom}:{a}-{b} ({err}); check the file "
                "or delete its .fai/.gzi index so it is rebuilt"
            ) from None
        if len(raw) != b - a or b"\n" in raw or b">" in raw:
            raise DanQError(
                f"{self.path}: {chrom}:{a}-{b} does not match the FASTA index (got {len(raw)} "
                f"of {b - a} bases); the index is out of date: delete "
                f"{self._fasta_path.name}.fai (and .gzi) and rerun"
            )
        return raw

    def close(self) -> None:
        """Release the file handle."""
        self._fa.close()


def naming_hint(names: list[str], contigs: list[str]) -> str:
    """'; did you mean chr1? ...' when adding/removing a chr prefix would fix the names."""
    fixed = []
    for n in names:
        alt = n[3:] if n.startswith("chr") else "chr" + n
        if alt in contigs:
            fixed.append(f"{n}->{alt}")
    if not fixed:
        return ""
    style = "remove the 'chr' prefix" if names[0].startswith("chr") else "add a 'chr' prefix"
    return f"; the names differ only by a chr prefix ({', '.join(fixed[:3])}): {style} in your input or use the other genome build naming"


def is_gzip(path: str | os.PathLike) -> bool:
    """True when the file starts with the gzip magic bytes (plain gzip or BGZF)."""
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_text(path: str | os.PathLike):
    """Open a plain or gzip-compressed text file for reading."""
    return gzip.open(path, "rt") if is_gzip(path) else open(path)
