"""The bad-input corpus: every stage, fed a wrong file, a damaged file, an unwritable output or
a nonsense option, must stop with exit status 2 and ONE stderr line that names the file (and
line) or the option and says what to do, with no traceback and nothing left under the output's
final name. docs/bad-inputs.md explains the table and how to add a case.

Each case runs the real command line in its own process, on tiny inputs generated once for the
whole module: `danq` commands are forked from tests/warm_danq.py, which has torch imported
already (DANQ_CORPUS_COLD=1 runs each as a fresh `python -m danq_pipeline` instead), and the
workflow cases run `snakemake -n`.
"""

from __future__ import annotations

import gzip
import json
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml
from eval_fixtures import gc_windows, tiny_checkpoint, tiny_targets, write_windows

from danq_pipeline.dataset import WindowsH5
from danq_pipeline.variants import write_variant_scores


@dataclass(frozen=True)
class Case:
    """One bad input: `argv` (a template, see `_expand`) must fail with a line holding `needles`."""

    id: str
    stage: str
    argv: str
    needles: tuple[str, ...]


def _c(id: str, stage: str, argv: str, *needles: str) -> Case:
    return Case(id, stage, argv, needles)


# {d}: the fixtures folder; {out}: this case's output path (must not exist afterwards).
# Model/data: a 60-bp small-preset checkpoint with 5 targets and windows files to match.
MODEL = "--model {d}/model.pt"
EVAL = f"evaluate {MODEL} --data {{d}}/test.h5 --device cpu --no-figures"
TRAIN = "train --train {d}/train.h5 --valid {d}/valid.h5 --preset small --epochs 1 --device cpu --threads 1"
SCORE = f"score-variants {MODEL} --fasta {{d}}/genome.fa --device cpu --threads 1"
ISM = f"ism {MODEL} --device cpu"
MOTIFS = f"motifs {MODEL} --data {{d}}/test.h5 --device cpu"
PREP = "prepare --fasta {d}/genome.fa --targets {d}/targets.tsv --quiet"
SNAKE = "snakemake -s {repo}/Snakefile -n --cores 1 -d {d}/wf/"
PRED = f"predict {MODEL} --fasta {{d}}/genome.fa --device cpu --threads 1"

CASES = [
    # prepare: FASTA, targets sheet, peak files, regions, geometry, outputs
    _c(
        "prepare-fasta-missing",
        "prepare",
        "prepare --fasta {d}/no.fa --targets {d}/targets.tsv --out-dir {out}",
        "no.fa",
        "no such FASTA file",
    ),
    _c(
        "prepare-fasta-not-fasta",
        "prepare",
        "prepare --fasta {d}/notfasta.fa --targets {d}/targets.tsv --out-dir {out}",
        "notfasta.fa",
        "check the file",
    ),
    _c(
        "prepare-sheet-missing",
        "prepare",
        "prepare --fasta {d}/genome.fa --targets {d}/no.tsv --out-dir {out}",
        "no.tsv",
    ),
    _c(
        "prepare-sheet-no-class-column",
        "prepare",
        "prepare --fasta {d}/genome.fa --targets {d}/sheet_nocls.tsv --out-dir {out}",
        "sheet_nocls.tsv",
        "class",
    ),
    _c(
        "prepare-sheet-bad-class",
        "prepare",
        "prepare --fasta {d}/genome.fa --targets {d}/sheet_badcls.tsv --out-dir {out}",
        "sheet_badcls.tsv",
        "enhancer",
    ),
    _c(
        "prepare-peak-file-missing",
        "prepare",
        "prepare --fasta {d}/genome.fa --targets {d}/sheet_nobed.tsv --out-dir {out}",
        "absent.bed",
    ),
    _c(
        "prepare-peak-bad-line",
        "prepare",
        "prepare --fasta {d}/genome.fa --targets {d}/sheet_badbed.tsv --out-dir {out}",
        "bad.bed",
        ":2:",
    ),
    _c("prepare-unknown-contig", "prepare", f"{PREP} --contigs chrZ --out-dir {{out}}", "chrZ"),
    _c(
        "prepare-region-reversed",
        "prepare",
        f"{PREP} --contigs chrT1:500-100 --out-dir {{out}}",
        "chrT1:500-100",
    ),
    _c(
        "prepare-valid-absent-contig",
        "prepare",
        f"{PREP} --valid chr7 --out-dir {{out}}",
        "--valid",
        "chr7",
    ),
    _c(
        "prepare-holdout-past-contig-end",
        "prepare",
        f"{PREP} --valid chrT1:5001-6000 --out-dir {{out}}",
        "--valid",
        "chrT1:5001-6000",
    ),
    _c(
        "prepare-summit-on-bed12",
        "prepare",
        "prepare --fasta {d}/genome.fa --targets {d}/sheet_bed12.tsv --out-dir {out}",
        "peaks12.bed",
    ),
    _c(
        "prepare-holdouts-overlap",
        "prepare",
        f"{PREP} --valid chrT1 --test chrT1 --out-dir {{out}}",
        "chrT1",
    ),
    _c(
        "prepare-blacklist-missing",
        "prepare",
        f"{PREP} --blacklist {{d}}/no_blacklist.bed --out-dir {{out}}",
        "no_blacklist.bed",
    ),
    _c(
        "prepare-window-geometry",
        "prepare",
        f"{PREP} --window 1000 --bin 301 --out-dir {{out}}",
        "--window",
        "--bin",
    ),
    _c(
        "prepare-negative-ratio-words",
        "prepare",
        f"{PREP} --negative-ratio lots --out-dir {{out}}",
        "--negative-ratio",
    ),
    _c("prepare-seed-negative", "prepare", f"{PREP} --seed -1 --out-dir {{out}}", "--seed", ">= 0"),
    _c(
        "prepare-out-dir-under-file",
        "prepare",
        f"{PREP} --out-dir {{d}}/afile/windows",
        "--out-dir",
        "afile is a file",
    ),
    _c(
        "prepare-out-dir-is-file",
        "prepare",
        f"{PREP} --out-dir {{d}}/afile",
        "--out-dir",
        "is a file, not a folder",
    ),
    _c(
        "prepare-out-dir-in-sys",
        "prepare",
        f"{PREP} --out-dir /sys/danq-corpus/windows",
        "--out-dir",
        "cannot create files in /sys",
    ),
    # train: inputs, damaged data, options
    _c(
        "train-data-missing",
        "train",
        "train --train {d}/no.h5 --valid {d}/valid.h5 --out {out}.pt",
        "no.h5",
        "danq prepare",
    ),
    _c(
        "train-data-not-hdf5",
        "train",
        "train --train {d}/genome.fa --valid {d}/valid.h5 --out {out}.pt",
        "genome.fa",
        "not a danq windows HDF5 file",
    ),
    _c(
        "train-data-corrupt-chunk",
        "train",
        f"{TRAIN} --train {{d}}/bad.h5 --out {{out}}.pt",
        "bad.h5",
        "/sequences rows",
        "danq prepare",
    ),
    _c(
        "train-out-under-file",
        "train",
        f"{TRAIN} --out {{d}}/afile/model.pt",
        "--out",
        "afile is a file",
    ),
    _c("train-epochs-zero", "train", f"{TRAIN} --out {{out}}.pt --epochs 0", "--epochs"),
    _c(
        "train-batch-negative", "train", f"{TRAIN} --out {{out}}.pt --batch-size -4", "--batch-size"
    ),
    _c("train-lr-negative", "train", f"{TRAIN} --out {{out}}.pt --lr -1", "--lr", "> 0"),
    _c("train-seed-negative", "train", f"{TRAIN} --out {{out}}.pt --seed -1", "--seed"),
    _c("train-workers-negative", "train", f"{TRAIN} --out {{out}}.pt --workers -1", "--workers"),
    _c(
        "train-checkpoint-every-negative",
        "train",
        f"{TRAIN} --out {{out}}.pt --checkpoint-every -5",
        "--checkpoint-every",
    ),
    _c(
        "train-unknown-recipe",
        "train",
        f"{TRAIN} --out {{out}}.pt --recipe keras",
        "--recipe",
        "paper",
    ),
    # evaluate
    _c(
        "evaluate-model-missing",
        "evaluate",
        "evaluate --model {d}/no.pt --data {d}/test.h5 --out-dir {out}",
        "no.pt",
    ),
    _c(
        "evaluate-checkpoint-truncated",
        "evaluate",
        "evaluate --model {d}/truncated.pt --data {d}/test.h5 --device cpu --out-dir {out}",
        "truncated.pt",
    ),
    _c(
        "evaluate-checkpoint-not-torch",
        "evaluate",
        "evaluate --model {d}/targets.tsv --data {d}/test.h5 --device cpu --out-dir {out}",
        "targets.tsv",
        "not a readable checkpoint",
    ),
    _c(
        "evaluate-checkpoint-pickle-payload",
        "evaluate",
        "evaluate --model {d}/payload.pt --data {d}/test.h5 --device cpu --out-dir {out}",
        "payload.pt",
        "refused",
    ),
    _c(
        "evaluate-targets-mismatch",
        "evaluate",
        "evaluate --model {d}/model.pt --data {d}/other_targets.h5 --device cpu --out-dir {out}",
        "other_targets.h5",
    ),
    _c(
        "evaluate-data-corrupt-chunk",
        "evaluate",
        "evaluate --model {d}/model.pt --data {d}/bad.h5 --device cpu --no-figures --out-dir {out}",
        "bad.h5",
        "/sequences rows",
        "danq prepare",
    ),
    _c(
        "evaluate-reference-missing",
        "evaluate",
        f"{EVAL} --reference {{d}}/no_ref.tsv --out-dir {{out}}",
        "no_ref.tsv",
    ),
    _c(
        "evaluate-out-dir-under-file",
        "evaluate",
        f"{EVAL} --out-dir {{d}}/afile/eval",
        "--out-dir",
        "afile is a file",
    ),
    _c(
        "evaluate-batch-zero",
        "evaluate",
        f"{EVAL} --batch-size 0 --out-dir {{out}}",
        "--batch-size",
    ),
    # score-variants
    _c(
        "score-vcf-missing",
        "score-variants",
        f"{SCORE} --vcf {{d}}/no.vcf --out-prefix {{out}}",
        "no.vcf",
    ),
    _c(
        "score-vcf-plain-gzip",
        "score-variants",
        f"{SCORE} --vcf {{d}}/plain.vcf.gz --out-prefix {{out}}",
        "plain.vcf.gz",
        "bgzip",
    ),
    _c(
        "score-vcf-not-vcf",
        "score-variants",
        f"{SCORE} --vcf {{d}}/targets.tsv --out-prefix {{out}}",
        "targets.tsv",
    ),
    _c(
        "score-ref-mismatch-strict",
        "score-variants",
        f"{SCORE} --vcf {{d}}/mismatch.vcf --strict --out-prefix {{out}}",
        "mismatch.vcf:3",
    ),
    _c(
        "score-unknown-target",
        "score-variants",
        f"{SCORE} --vcf {{d}}/ok.vcf --targets nosuch --out-prefix {{out}}",
        "nosuch",
    ),
    _c(
        "score-chunk-past-count",
        "score-variants",
        f"{SCORE} --vcf {{d}}/ok.vcf --chunk 3/2 --out-prefix {{out}}",
        "3/2",
    ),
    _c(
        "score-out-prefix-under-file",
        "score-variants",
        f"{SCORE} --vcf {{d}}/ok.vcf --out-prefix {{d}}/afile/scores",
        "--out-prefix",
        "afile is a file",
    ),
    _c(
        "score-batch-zero",
        "score-variants",
        f"{SCORE} --vcf {{d}}/ok.vcf --batch-size 0 --out-prefix {{out}}",
        "--batch-size",
    ),
    _c(
        "score-threads-zero",
        "score-variants",
        f"{SCORE} --vcf {{d}}/ok.vcf --threads 0 --out-prefix {{out}}",
        "--threads",
    ),
    # gather-variants
    _c(
        "gather-chunk-missing",
        "gather-variants",
        "gather-variants --inputs {d}/no_chunk1 {d}/no_chunk2 --out-prefix {out}",
        "no_chunk1",
    ),
    _c(
        "gather-chunk-of-n-missing",
        "gather-variants",
        "gather-variants --inputs {d}/chunk2of3 {d}/chunk1of3 --out-prefix {out}",
        "--inputs",
        "3/3 missing",
    ),
    _c(
        "gather-chunk-twice",
        "gather-variants",
        "gather-variants --inputs {d}/chunk1of3 {d}/chunk1of3 --out-prefix {out}",
        "chunk1of3",
        "given twice",
    ),
    # ism
    _c(
        "ism-unknown-contig",
        "ism",
        f"{ISM} --fasta {{d}}/genome.fa --region chrZ:1-40 --out-prefix {{out}}",
        "chrZ",
    ),
    _c(
        "ism-region-too-long",
        "ism",
        f"{ISM} --fasta {{d}}/genome.fa --region chrT1:1-500 --out-prefix {{out}}",
        "chrT1:1-500",
    ),
    _c(
        "ism-region-without-fasta",
        "ism",
        f"{ISM} --region chrT1:1-40 --out-prefix {{out}}",
        "--fasta",
    ),
    _c(
        "ism-sequence-not-dna",
        "ism",
        f"{ISM} --sequence ACGTXACGT --out-prefix {{out}}",
        "--sequence",
    ),
    _c(
        "ism-out-prefix-under-file",
        "ism",
        f"{ISM} --sequence ACGTACGT --out-prefix {{d}}/afile/ism",
        "--out-prefix",
        "afile is a file",
    ),
    _c(
        "ism-batch-zero",
        "ism",
        f"{ISM} --sequence ACGT --batch-size 0 --out-prefix {{out}}",
        "--batch-size",
    ),
    # motifs
    _c(
        "motifs-max-windows-negative",
        "motifs",
        f"{MOTIFS} --max-windows -5 --out-dir {{out}}",
        "--max-windows",
    ),
    _c(
        "motifs-min-activation-above-one",
        "motifs",
        f"{MOTIFS} --min-activation 2 --out-dir {{out}}",
        "--min-activation",
    ),
    _c(
        "motifs-data-corrupt-chunk",
        "motifs",
        "motifs --model {d}/model.pt --data {d}/bad.h5 --device cpu --out-dir {out}",
        "bad.h5",
        "danq prepare",
    ),
    _c(
        "motifs-out-dir-under-file",
        "motifs",
        f"{MOTIFS} --out-dir {{d}}/afile/motifs",
        "--out-dir",
        "afile is a file",
    ),
    # report
    _c(
        "report-evaluate-dir-missing",
        "report",
        "report --evaluate-dir {d}/no_eval --out {out}.html",
        "no_eval",
        "danq evaluate",
    ),
    _c(
        "report-history-missing",
        "report",
        "report --evaluate-dir {d}/eval --history {d}/no_hist.tsv --out {out}.html",
        "no_hist.tsv",
    ),
    _c(
        "report-out-under-file",
        "report",
        "report --evaluate-dir {d}/eval --out {d}/afile/report.html",
        "--out",
        "afile is a file",
    ),
    _c(
        "report-out-is-folder",
        "report",
        "report --evaluate-dir {d}/eval --out {d}/eval",
        "--out",
        "is a folder",
    ),
    # import-deepsea
    _c("deepsea-nothing-given", "import-deepsea", "import-deepsea --out-dir {out}", "--train"),
    _c(
        "deepsea-mat-missing",
        "import-deepsea",
        "import-deepsea --valid {d}/no_valid.mat --out-dir {out}",
        "no_valid.mat",
    ),
    _c(
        "deepsea-mat-not-matlab",
        "import-deepsea",
        "import-deepsea --valid {d}/targets.tsv --out-dir {out}",
        "targets.tsv",
    ),
    _c(
        "deepsea-out-dir-under-file",
        "import-deepsea",
        "import-deepsea --valid {d}/targets.tsv --out-dir {d}/afile/ds",
        "--out-dir",
        "afile is a file",
    ),
    _c(
        "deepsea-chunk-zero",
        "import-deepsea",
        "import-deepsea --valid {d}/x.mat --chunk-windows 0 --out-dir {out}",
        "--chunk-windows",
    ),
    # predict
    _c(
        "predict-bed-missing",
        "predict",
        f"{PRED} --bed {{d}}/no.bed --out-prefix {{out}}",
        "no.bed",
    ),
    _c(
        "predict-bed-bad-line",
        "predict",
        f"{PRED} --bed {{d}}/bad.bed --out-prefix {{out}}",
        "bad.bed",
        ":2:",
    ),
    _c(
        "predict-window-past-contig-end",
        "predict",
        f"{PRED} --bed {{d}}/edge.bed --out-prefix {{out}}",
        "edge.bed:1:",
        "--pad-short",
    ),
    _c(
        "predict-unknown-target",
        "predict",
        f"{PRED} --bed {{d}}/peaks.bed --targets nope --out-prefix {{out}}",
        "--targets",
        "nope",
    ),
    _c(
        "predict-stride-above-window",
        "predict",
        f"{PRED} --bed {{d}}/peaks.bed --stride 61 --out-prefix {{out}}",
        "--stride 61",
    ),
    _c(
        "predict-sequence-too-long",
        "predict",
        "predict --model {d}/model.pt --sequences {d}/genome.fa --device cpu --out-prefix {out}",
        "genome.fa",
        "longer than the model's 60-bp window",
    ),
    _c(
        "predict-bigwig-with-sequences",
        "predict",
        "predict --model {d}/model.pt --sequences {d}/genome.fa --bigwig {out}",
        "--bigwig",
        "--bed",
    ),
    _c(
        "predict-out-prefix-under-file",
        "predict",
        f"{PRED} --bed {{d}}/peaks.bed --out-prefix {{d}}/afile/p",
        "--out-prefix",
        "afile is a file",
    ),
    # the workflow's config (snakemake dry run)
    _c("config-unknown-key", "workflow", SNAKE + "unknown_key", "bogus_key"),
    _c(
        "config-genome-missing",
        "workflow",
        SNAKE + "genome_missing",
        "genome.fasta",
        "no/such/genome.fa",
    ),
    _c(
        "config-negative-ratio-words",
        "workflow",
        SNAKE + "negative_ratio_words",
        "prepare.negative_ratio",
    ),
    _c(
        "config-max-n-fraction-two",
        "workflow",
        SNAKE + "max_n_fraction_two",
        "prepare.max_n_fraction",
    ),
]

# the tiny scenario's config (.test/config.yaml) with these keys changed, one folder each
WORKFLOW_CONFIGS = {
    "unknown_key": {"bogus_key": 1},
    "genome_missing": {"genome": {"fasta": "no/such/genome.fa"}},
    "negative_ratio_words": {"prepare": {"negative_ratio": "lots"}},
    "max_n_fraction_two": {"prepare": {"max_n_fraction": 2}},
}


def _random_dna(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), size=n))


def _corrupt_chunk(src: Path, dst: Path) -> Path:
    """Copy `src` and overwrite 2 kB in the middle of its second compressed /sequences chunk,
    as a bad disk or an interrupted copy would."""
    data = bytearray(src.read_bytes())
    with h5py.File(src, "r") as h5:
        chunk = h5["sequences"].id.get_chunk_info(1)
    at = chunk.byte_offset + chunk.size // 4
    data[at : at + 2048] = np.random.default_rng(7).integers(0, 256, 2048, dtype=np.uint8).tobytes()
    dst.write_bytes(bytes(data))
    return dst


def _build(repo: Path, d: Path) -> None:
    """Every input the corpus names: tiny genome, sheets, peaks, VCFs, model and windows files."""
    rng = np.random.default_rng(3)
    chroms = {"chrT1": _random_dna(rng, 3000), "chrT2": _random_dna(rng, 2000)}
    (d / "genome.fa").write_text("".join(f">{c}\n{s}\n" for c, s in chroms.items()))
    (d / "notfasta.fa").write_text("ACGTACGT\nthis is not a FASTA file\n")
    (d / "peaks.bed").write_text("chrT1\t100\t400\nchrT2\t50\t300\n")
    (d / "bad.bed").write_text("chrT1\t100\t400\nchrT1\tten\t300\n")
    (d / "edge.bed").write_text(
        "chrT2\t1990\t2000\tend\n"
    )  # its 60-bp window runs past chrT2's 2000 bp
    head = "name\tfile\tclass\n"
    (d / "targets.tsv").write_text(head + "p1\tpeaks.bed\tTF\n")
    (d / "sheet_nocls.tsv").write_text("name\tfile\np1\tpeaks.bed\n")
    (d / "sheet_badcls.tsv").write_text(head + "p1\tpeaks.bed\tenhancer\n")
    (d / "sheet_nobed.tsv").write_text(head + "p1\tabsent.bed\tTF\n")
    (d / "sheet_badbed.tsv").write_text(head + "p1\tbad.bed\tTF\n")
    (d / "peaks12.bed").write_text("chrT1\t100\t400\tp\t0\t+\t100\t400\t0\t1\t300,\t0,\n")
    (d / "sheet_bed12.tsv").write_text("name\tfile\tclass\tsummit\np1\tpeaks12.bed\tTF\t50\n")
    (d / "afile").write_text("a regular file where a folder is expected\n")
    vcf_head = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    ref = chroms["chrT1"][99]
    alt = "A" if ref != "A" else "C"
    (d / "ok.vcf").write_text(vcf_head + f"chrT1\t100\trs1\t{ref}\t{alt}\t.\t.\t.\n")
    (d / "mismatch.vcf").write_text(vcf_head + f"chrT1\t100\trs1\t{alt}\t{ref}\t.\t.\t.\n")
    three = "".join(
        f"chrT1\t{p}\trs{p}\t{chroms['chrT1'][p - 1]}\tN\t.\t.\t.\n" for p in (100, 200, 300)
    )
    (d / "three.vcf").write_text(vcf_head + three)
    (d / "plain.vcf.gz").write_bytes(gzip.compress((d / "ok.vcf").read_bytes()))
    (d / "x.mat").write_text("not used: the option check comes first\n")
    targets = tiny_targets()
    tiny_checkpoint(d / "model.pt", targets)
    raw = (d / "model.pt").read_bytes()
    (d / "truncated.pt").write_bytes(raw[: len(raw) // 2])
    torch.save(
        {"state_dict": {}, "note": Path("/")}, d / "payload.pt"
    )  # a pickled object, not tensors
    for name, n, seed in (("train", 600, 1), ("valid", 300, 2), ("test", 600, 3)):
        write_windows(d / f"{name}.h5", *gc_windows(n, len(targets), seed=seed), targets)
    write_windows(d / "other_targets.h5", *gc_windows(100, 3, seed=4), tiny_targets(3))
    _corrupt_chunk(d / "train.h5", d / "bad.h5")
    for k in (1, 2):  # two of the three chunk outputs of one scatter run
        write_variant_scores(
            d / "model.pt",
            d / "genome.fa",
            d / "three.vcf",
            d / f"chunk{k}of3",
            chunk=(k, 3),
            device="cpu",
        )
    (d / "eval").mkdir()
    (d / "eval" / "metrics.tsv").write_text("id\tname\tclass\tauroc\n0\tt0\tTF\t0.5\n")
    (d / "eval" / "summary.tsv").write_text("class\tn_targets\nall\t1\n")
    for name, change in WORKFLOW_CONFIGS.items():
        work = d / "wf" / name
        work.mkdir(parents=True)
        (work / "data").symlink_to(repo / "data")
        config = yaml.safe_load((repo / ".test" / "config.yaml").read_text())
        for key, value in change.items():
            config[key] = (
                {**config[key], **value} if isinstance(value, dict) and key in config else value
            )
        (work / "config.yaml").write_text(yaml.safe_dump(config))


def _expand(case: Case, d: Path, repo: Path) -> tuple[list[str], Path]:
    """The command line of `case` (after `danq`, or a whole snakemake command) and its output path."""
    out = d / "out" / case.id
    return shlex.split(case.argv.format(d=d, out=out, repo=repo)), out


@dataclass(frozen=True)
class Result:
    returncode: int
    stderr: str


class WarmDanq:
    """`danq` commands run by the fork server in tests/warm_danq.py: each in its own process,
    started without re-importing torch (see that file)."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.cwd = cwd
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("warm_danq.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,
        )
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}

    def run(self, argv: list[str], name: str) -> Result:
        err = self.cwd / "logs" / f"{name}.stderr"
        request = {"argv": argv, "cwd": str(self.cwd), "stdout": os.devnull, "stderr": str(err)}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        status = json.loads(self.proc.stdout.readline())["status"]
        return Result(status, err.read_text())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _cold(argv: list[str], d: Path, env: dict[str, str], name: str) -> Result:
    """One command as a fresh process: snakemake, or `python -m danq_pipeline` (DANQ_CORPUS_COLD=1)."""
    args = argv if argv[0] == "snakemake" else [sys.executable, "-m", "danq_pipeline", *argv]
    run = subprocess.run(args, capture_output=True, text=True, env=env, cwd=d, timeout=300)
    (d / "logs" / f"{name}.stderr").write_text(run.stderr)
    return Result(run.returncode, run.stderr)


@pytest.fixture(scope="module")
def corpus(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, repo: Path
) -> tuple[Path, dict[str, Result]]:
    """Build the inputs once and run every selected case (`-k` picks a few): the workflow cases
    (snakemake processes) in a thread while the fork server runs the danq commands in turn."""
    d = tmp_path_factory.mktemp("bad_inputs")
    _build(repo, d)
    (d / "out").mkdir()
    (d / "logs").mkdir()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "OMP_NUM_THREADS": "1",
    }
    chosen = {  # the corpus cases selected in this session (other files may have a "case" too)
        item.callspec.params["case"].id
        for item in request.session.items
        if item.module is request.module
        and "case" in getattr(getattr(item, "callspec", None), "params", {})
    }
    cases = [c for c in CASES if c.id in chosen]
    argvs = {c.id: _expand(c, d, repo)[0] for c in cases}
    cold = os.environ.get("DANQ_CORPUS_COLD") == "1"
    with ThreadPoolExecutor(1) as pool:
        pending = {
            c.id: pool.submit(_cold, argvs[c.id], d, env, c.id)
            for c in cases
            if cold or argvs[c.id][0] == "snakemake"
        }
        runs = {}
        if len(pending) < len(cases):
            warm = WarmDanq(env, d)
            try:
                runs = {c.id: warm.run(argvs[c.id], c.id) for c in cases if c.id not in pending}
            finally:
                warm.close()
        runs |= {i: f.result() for i, f in pending.items()}
    return d, runs


def test_corpus_covers_every_stage() -> None:
    stages = {c.stage for c in CASES}
    assert stages == {
        "prepare",
        "train",
        "evaluate",
        "score-variants",
        "gather-variants",
        "ism",
        "motifs",
        "report",
        "import-deepsea",
        "predict",
        "workflow",
    }
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_clear_line(case: Case, corpus, repo: Path) -> None:
    d, runs = corpus
    run = runs[case.id]
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    shown = f"status {run.returncode}, stderr:\n{run.stderr[-3000:]}"
    assert run.returncode == 2, shown
    assert "Traceback" not in run.stderr, shown
    assert len(lines) == 1, shown
    assert "error" in lines[0], shown
    for needle in case.needles:
        assert needle in lines[0], shown
    _, out = _expand(case, d, repo)
    left = sorted(p.name for p in out.parent.glob(out.name + "*"))
    assert not left, f"left under the output name: {left}"
    if case.stage == "workflow":
        assert not (d / "wf" / case.argv.rsplit("/", 1)[-1] / "results").exists()


def test_corrupt_chunk_is_reported_with_rows(tmp_path: Path) -> None:
    """The damaged windows file (built as in the corpus) names its dataset and row range when read."""
    from danq_pipeline.errors import DanQError

    targets = tiny_targets()
    good = write_windows(tmp_path / "good.h5", *gc_windows(600, len(targets), seed=1), targets)
    bad = WindowsH5(_corrupt_chunk(good, tmp_path / "bad.h5"))
    codes, _ = bad.read_codes(0, 256)  # the first chunk is intact
    assert codes.shape == (256, bad.window)
    with pytest.raises(
        DanQError, match=r"bad\.h5: dataset /sequences rows 256-511 cannot be read.*danq prepare"
    ):
        bad.read_codes(0, 600)  # the message names the damaged chunk's rows, not the whole request


def test_read_only_folder_is_refused_before_work(tmp_path: Path) -> None:
    """A folder without write permission stops `danq report` before it reads anything. Root
    ignores permissions (and CI runs as root), so there it can write and the case is skipped;
    the corpus covers unwritable outputs that stop root too (a file as parent, /sys)."""
    from danq_pipeline._io import ensure_writable
    from danq_pipeline.errors import DanQError

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: a read-only folder is writable for root")
        with pytest.raises(
            DanQError, match=r"--out .*locked/report.html: cannot create files in .*locked"
        ):
            ensure_writable(locked / "report.html", "--out")
    finally:
        locked.chmod(0o755)
