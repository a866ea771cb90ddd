"""User-typed regions (`danq_pipeline.regions`): 1-based inclusive text -> 0-based half-open."""

from __future__ import annotations

import pytest

from danq_pipeline import regions as rg
from danq_pipeline.errors import DanQError

LENGTHS = {"chr1": 10_000, "chr2": 5_000}


def test_region_strings_are_1_based_inclusive():
    r = rg.parse_region("chr1:1001-2000", LENGTHS)
    assert r == rg.Region("chr1", 1000, 2000), (
        "1-based inclusive 1001-2000 is 0-based half-open [1000, 2000)"
    )
    assert rg.parse_region("chr2", LENGTHS) == rg.Region("chr2", 0, 5000)
    assert rg.parse_regions("chr1:1,001-2,000,chr2", LENGTHS, "test") == [
        rg.Region("chr1", 1000, 2000),
        rg.Region("chr2", 0, 5000),
    ]
    with pytest.raises(DanQError, match="chr prefix"):
        rg.parse_region("1:5-10", LENGTHS)


def test_region_starting_past_the_contig_end_is_refused():
    """chr2 has 5,000 bp: a region starting at 5,001 is no region of this genome (it used to be
    stored inverted, start > end); one ending past the end is clipped."""
    with pytest.raises(
        DanQError,
        match=r"`valid`: region 'chr2:5001-6000' starts past the end of chr2 \(5,000 bp\)",
    ):
        rg.parse_regions("chr2:5001-6000", LENGTHS, "valid")
    assert rg.parse_region("chr2:5000-6000", LENGTHS) == rg.Region("chr2", 4999, 5000)


def test_absent_contig_name_is_named_with_contigs_that_exist():
    with pytest.raises(DanQError) as err:
        rg.parse_regions("chr7", LENGTHS, "valid")
    assert str(err.value) == "`valid`: contig 'chr7' is not in the FASTA (it has chr1, chr2)"
    assert err.value.params == ("valid",), (
        "the CLI shows the parameter as its flag (test_prepare checks)"
    )
    with pytest.raises(DanQError, match="contig '2' is not in the FASTA.*add a 'chr' prefix"):
        rg.parse_regions("chr1,2", LENGTHS, "test")
