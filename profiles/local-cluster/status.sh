#!/usr/bin/env bash
# Local stand-in for a cluster's status query (sacct, qstat): print running, success or failed
# for a job id printed by submit.sh. A job whose process is gone without an exit status
# (killed) is failed, so Snakemake never waits for it forever.
set -uo pipefail
id=$1
rc_file="logs/cluster/status/${id}.rc"
report() { if [ "$(cat "$rc_file")" = 0 ]; then echo success; else echo failed; fi; }
if [ -s "$rc_file" ]; then report; exit 0; fi
if kill -0 "$id" 2> /dev/null; then echo running; exit 0; fi
# the job may have written its status between the two checks
if [ -s "$rc_file" ]; then report; else echo failed; fi
