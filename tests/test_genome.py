"""Genome access: plain/BGZF/gzip FASTA, soft-masking, IUPAC counting, padding, contig names."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from danq_pipeline.encode import decode
from danq_pipeline.errors import DanQError
from danq_pipeline.genome import Genome

SEQ = "ACGTacgtNNRYacgt" * 10  # 160 bp: soft-masked lowercase, N and IUPAC R/Y


@pytest.fixture
def fasta(tmp_path: Path) -> Path:
    path = tmp_path / "g.fa"
    path.write_text(
        ">chr1 description\n"
        + "\n".join(SEQ[i : i + 50] for i in range(0, len(SEQ), 50))
        + "\n>chr2\nACGT\n"
    )
    return path


def test_read_contig_codes_iupac_and_md5(fasta):
    g = Genome(fasta)
    contig = g.read_contig("chr1", chunk=37)  # chunk boundaries inside lines
    assert decode(contig.codes) == SEQ.upper().replace("R", "N").replace("Y", "N")
    assert contig.n_other == 20, "R and Y are counted, stored as N"
    assert contig.md5 == hashlib.md5(SEQ.upper().encode()).hexdigest(), "M5 as in samtools dict"
    assert g.lengths == {"chr1": 160, "chr2": 4}


def test_fetch_codes_pads_past_contig_ends(fasta):
    g = Genome(fasta)
    assert g.fetch_codes("chr2", -2, 6).tolist() == [4, 4, 0, 1, 2, 3, 4, 4]
    with pytest.raises(DanQError, match="runs past"):
        g.fetch_codes("chr2", 0, 6, pad=False)


def test_bgzf_reads_and_plain_gzip_is_refused(fasta, tmp_path):
    if shutil.which("bgzip") is None:
        pytest.skip("bgzip not on PATH")
    bgz = tmp_path / "bgzf.fa.gz"
    bgz.write_bytes(
        subprocess.run(["bgzip", "-c", str(fasta)], capture_output=True, check=True).stdout
    )
    assert np.array_equal(
        Genome(bgz).read_contig("chr1").codes, Genome(fasta).read_contig("chr1").codes
    )
    plain = tmp_path / "plain.fa.gz"
    with gzip.open(plain, "wb") as fh:
        fh.write(fasta.read_bytes())
    with pytest.raises(DanQError, match="not BGZF.*bgzip"):
        Genome(plain)


def test_unknown_contig_suggests_prefix(fasta):
    with pytest.raises(DanQError, match="chr prefix"):
        Genome(fasta).check_contig("1", source="x.bed")
