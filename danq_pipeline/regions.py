"""User-typed genome regions: ``chr8`` or ``chr22:17,000,000-18,000,000`` -> `Region`.

Regions are typed the way samtools and the UCSC browser display them (1-based, inclusive)
and converted once, here, to the package's 0-based half-open convention. Both sides use it:
`prepare` (--contigs, --valid, --test) and interpretation (`danq ism --region`), so it lives
apart from the prepare-only interval code and needs neither pandas nor torch.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from danq_pipeline.errors import DanQError
from danq_pipeline.genome import naming_hint


class Region(NamedTuple):
    """A genomic region, 0-based half-open."""

    chrom: str
    start: int
    end: int


def parse_region(text: str, lengths: dict[str, int], source: str = "region") -> Region:
    """Parse ``chrom`` or ``chrom:start-end`` (1-based inclusive, as samtools/UCSC display).

    `source` names where the text came from (an API parameter, which the CLI shows as its
    flag) at the start of every error message.

    ``chr22:17000000-18000000`` becomes the 0-based half-open ``(chr22, 16999999, 18000000)``.
    Commas in numbers are allowed; the end is clipped to the contig length.
    """
    text = text.strip()
    if text in lengths:
        return Region(text, 0, lengths[text])
    m = re.fullmatch(r"(.+):([\d,]+)-([\d,]+)", text)
    if not m and ":" not in text and text:
        raise DanQError(
            f"`{source}`: contig {text!r} is not in the FASTA{fasta_has(lengths, text)}",
            params=source,
        )
    if not m:
        raise DanQError(
            f"`{source}`: cannot read {text!r}; write a contig name (chr8) or a "
            "region chrom:start-end, 1-based inclusive (chr22:17000000-18000000)",
            params=source,
        )
    chrom, a, b = m.group(1), int(m.group(2).replace(",", "")), int(m.group(3).replace(",", ""))
    if chrom not in lengths:
        raise DanQError(
            f"`{source}`: contig {chrom!r} of {text!r} is not in the FASTA{fasta_has(lengths, chrom)}",
            params=source,
        )
    if a < 1 or b < a:
        raise DanQError(
            f"`{source}`: region {text!r} needs 1 <= start <= end "
            "(1-based inclusive, e.g. chr22:17000000-18000000)",
            params=source,
        )
    if a > lengths[chrom]:
        raise DanQError(
            f"`{source}`: region {text!r} starts past the end of {chrom} ({lengths[chrom]:,} bp); "
            "check the coordinates and the genome build",
            params=source,
        )
    return Region(chrom, a - 1, min(b, lengths[chrom]))


def fasta_has(lengths: dict[str, int], chrom: str) -> str:
    """' (it has chr1, chr2, ...)' plus a chr-prefix hint, for messages about an absent contig."""
    names = list(lengths)
    return (
        f" (it has {', '.join(names[:5])}{'...' if len(names) > 5 else ''})"
        f"{naming_hint([chrom], names)}"
    )


def parse_regions(text: str | None, lengths: dict[str, int], source: str) -> list[Region]:
    """Parse a comma-separated list of contigs/regions (empty or None -> []), merged."""
    if not text:
        return []
    return merge_regions([parse_region(p, lengths, source) for p in split_region_list(text)])


def split_region_list(text: str) -> list[str]:
    """Split 'chr1,chr22:17,000,000-18,000,000' at the commas that separate items.

    A comma followed by a 3-digit group continues the number of a region typed with
    thousands separators (as the UCSC browser shows them).
    """
    items: list[str] = []
    for token in (t.strip() for t in text.split(",")):
        if (
            items
            and re.fullmatch(r"\d{3}(-\d+)?", token)
            and re.search(r":[\d,]+(-[\d,]+)?$", items[-1])
        ):
            items[-1] += "," + token
        elif token:
            items.append(token)
    return items


def merge_regions(regions: list[Region]) -> list[Region]:
    """Sort and merge overlapping regions per contig."""
    out: list[Region] = []
    for r in sorted(regions):
        if out and out[-1].chrom == r.chrom and r.start <= out[-1].end:
            out[-1] = Region(r.chrom, out[-1].start, max(out[-1].end, r.end))
        else:
            out.append(r)
    return out


def region_arrays(regions: list[Region], chrom: str) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends (int64) of the merged regions on one contig."""
    rs = [r for r in regions if r.chrom == chrom]
    return (
        np.array([r.start for r in rs], dtype=np.int64),
        np.array([r.end for r in rs], dtype=np.int64),
    )
