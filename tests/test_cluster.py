"""The workflow as cluster jobs: every rule of the tiny scenario submitted as its own detached
process through snakemake-executor-plugin-cluster-generic (profiles/local-cluster), and every
rule of the workflow declaring the threads and memory a batch scheduler needs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SUBMITTED = re.compile(r"Submitted job (\d+) with external jobid '(\d+)'")
FINISHED = re.compile(r"Finished jobid: (\d+) \(Rule: (\w+)\)")


def _rule_blocks(repo: Path) -> dict[str, str]:
    """Every `rule name:` block of the Snakefile and rules/*.smk, as {name: text}, including
    rules only some configs include (import_deepsea, gather_variants)."""
    blocks: dict[str, str] = {}
    for path in [repo / "Snakefile", *sorted((repo / "rules").glob("*.smk"))]:
        text = path.read_text()
        heads = list(re.finditer(r"^(\s*)rule (\w+):\n", text, re.M))
        for i, head in enumerate(heads):
            end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
            # the block ends at the first line indented no deeper than `rule`
            body = []
            for line in text[head.end() : end].splitlines():
                if line.strip() and len(line) - len(line.lstrip()) <= len(head.group(1)):
                    break
                body.append(line)
            blocks[head.group(2)] = "\n".join(body)
    return blocks


def test_every_submitted_rule_declares_threads_and_memory(repo: Path) -> None:
    """A scheduler reserves what a rule declares: each rule run as a job (all but the local
    target `all`) says its threads and mem_mb."""
    blocks = _rule_blocks(repo)
    assert {
        "prepare",
        "train",
        "evaluate",
        "report",
        "score_variants",
        "gather_variants",
        "motifs",
        "ism",
        "import_deepsea",
        "all",
    } <= set(blocks)
    missing = [
        name
        for name, body in blocks.items()
        if name != "all"
        and not (re.search(r"^\s+threads:", body, re.M) and re.search(r"^\s+mem_mb=", body, re.M))
    ]
    assert not missing, f"rules without threads: or resources: mem_mb=: {missing}"


def _workdir(repo: Path, tmp_path: Path) -> Path:
    """The tiny scenario's config and a link to the demo data (as tests/test_workflow.py)."""
    (tmp_path / "data").symlink_to(repo / "data")
    shutil.copy(repo / ".test" / "config.yaml", tmp_path / "config.yaml")
    return tmp_path


def _job_properties(work: Path, rule: str, jobid: str) -> dict:
    """The properties Snakemake wrote into a job's script, as the submit script saw them."""
    log = work / "logs" / "cluster" / f"{rule}.{jobid}.log"
    assert log.exists(), f"no per-job log {log}"
    return json.loads((work / "logs" / "cluster" / f"{rule}.{jobid}.json").read_text())


@pytest.mark.slow
def test_tiny_scenario_runs_as_cluster_jobs(repo: Path, tmp_path: Path, tool_env: dict) -> None:
    """Each rule runs as its own process (no shared state beyond declared files), is submitted
    with threads and mem_mb, and leaves its own log under logs/."""
    work = _workdir(repo, tmp_path)
    cmd = [
        "snakemake",
        "-s",
        str(repo / "Snakefile"),
        "-d",
        str(work),
        "--profile",
        str(repo / "profiles" / "local-cluster"),
    ]
    plan = subprocess.run([*cmd, "-n"], env=tool_env, capture_output=True, text=True, timeout=120)
    assert plan.returncode == 0, plan.stderr[-3000:]
    planned = {m.group(1) for m in re.finditer(r"^rule (\w+):", plan.stdout, re.M)} - {"all"}
    run = subprocess.run(cmd, env=tool_env, capture_output=True, text=True, timeout=600)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    submitted = dict(SUBMITTED.findall(out))  # snakemake jobid -> external id (a process id)
    finished = dict(FINISHED.findall(out))  # snakemake jobid -> rule
    ran = {job: rule for job, rule in finished.items() if rule != "all"}
    # every planned rule ran, each as one job submitted through the executor
    assert (
        set(ran.values())
        == planned
        == {
            "prepare",
            "train",
            "evaluate",
            "report",
            "score_variants",
            "motifs",
            "ism",
            "predict_regions",
        }
    )
    assert set(ran) == set(submitted), (ran, submitted)
    assert len(set(submitted.values())) == len(submitted), "two jobs shared one process"
    for job, rule in ran.items():
        props = _job_properties(work, rule, job)
        assert props["rule"] == rule and props["local"] is False
        assert props["threads"] >= 1 and props["resources"]["mem_mb"] > 0, props
        status = work / "logs" / "cluster" / "status" / f"{submitted[job]}.rc"
        assert status.read_text().strip() == "0"
    # each rule's own log: logs/<rule>.log, or one per wildcard value
    for rule in ("prepare", "train", "evaluate", "report", "motifs"):
        assert (work / "logs" / f"{rule}.log").exists(), rule
    assert (work / "logs" / "variants" / "dbsnp_common.log").exists()
    assert list((work / "logs" / "ism").glob("*.log"))
    assert (work / "results" / "report" / "report.html").stat().st_size > 0
    assert (work / "results" / "variants" / "dbsnp_common.vcf.gz").exists()
