#!/usr/bin/env bash
# Local stand-in for a cluster's cancel command (scancel): end each job's whole process group
# (submit.sh started every job as its own session, so its id is the group id).
for id in "$@"; do
    kill -TERM -- "-$id" 2> /dev/null || true
done
