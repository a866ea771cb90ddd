#!/usr/bin/env bash
# Local stand-in for a cluster's submit command (sbatch, qsub): start one Snakemake jobscript
# as its own detached process (own session, no shared stdin/stdout with Snakemake) and print
# its job id, which status.sh and cancel.sh take. Used by snakemake-executor-plugin-cluster-generic
# through profiles/local-cluster/config.yaml; each job's stdout+stderr go to
# logs/cluster/<rule>.<snakemake jobid>.log, its properties (threads, resources) to .json beside
# it, and its exit status to logs/cluster/status/<id>.rc.
set -euo pipefail
jobscript=$1
# the jobscript's header holds the job's properties as JSON: rule name and Snakemake job id
props=$(sed -n 's/^# properties = //p' "$jobscript")
read -r rule jobid < <(printf '%s' "$props" | python3 -c \
    'import json, sys; p = json.load(sys.stdin); print(p.get("rule", "group"), p.get("jobid", 0))')
mkdir -p logs/cluster/status
log="logs/cluster/${rule}.${jobid}.log"
printf '%s\n' "$props" > "logs/cluster/${rule}.${jobid}.json"
rcdir="$PWD/logs/cluster/status"
# setsid: the job survives Snakemake's process group, as a cluster job would
setsid bash -c 'bash "$1" > "$2" 2>&1; rc=$?; echo $rc > "$3/$$.rc.tmp" && mv "$3/$$.rc.tmp" "$3/$$.rc"' \
    job "$jobscript" "$log" "$rcdir" < /dev/null > /dev/null 2>&1 &
echo "$!"
