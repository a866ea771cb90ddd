#!/usr/bin/env bash
# GPU check (issue 16): run on a machine with a CUDA GPU, from anywhere; writes OUTDIR/results.json.
#   bash bench/gpu/check.sh OUTDIR            # on a GPU: under 8 minutes on one H200 (sizes in check.py)
#   bash bench/gpu/check.sh OUTDIR --dry-run  # on the CPU, tiny sizes: the same code paths (tests/test_gpu_check.py)
# Steps: pytest -m gpu (JUnit XML kept in OUTDIR), then bench/gpu/check.py: training of the danq
# preset in fp32 and bf16, evaluate-style prediction, score-variants, and a torchrun DDP run
# whose losses must equal one process's. docs/benchmarks.md ("GPU check") says what each figure is.
#
# Python: $PYTHON if set, else the project's .venv (make setup) when it imports torch, else the
# machine's python3 (a GPU machine with its own CUDA torch and no package index). Packages the
# machine lacks (pyfaidx, pysam, ... : bench/gpu/fetch_wheels.sh downloads them where pip works)
# are installed from $DANQ_WHEELS (default: <repo>/.whl) into a temporary folder, never into
# the machine's Python. Exit status: 0 when every step passed, 1 otherwise, 2 on bad usage.
set -uo pipefail
usage="usage: bash bench/gpu/check.sh OUTDIR [--dry-run]"
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "gpu-check: error: $usage" >&2; exit 2; }
out=$1
dry=""
if [ $# -eq 2 ]; then
    [ "$2" = "--dry-run" ] || { echo "gpu-check: error: unknown option '$2'; $usage" >&2; exit 2; }
    dry="--dry-run"
fi
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkdir -p "$out" || { echo "gpu-check: error: cannot create OUTDIR '$out'" >&2; exit 2; }
out=$(cd "$out" && pwd)

if [ -n "${PYTHON:-}" ]; then
    py=$PYTHON
elif [ -x "$repo/.venv/bin/python" ] && "$repo/.venv/bin/python" -c \
        "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is None)" 2> /dev/null; then
    py=$repo/.venv/bin/python
else
    py=python3
fi
wheels=${DANQ_WHEELS:-$repo/.whl}
if compgen -G "$wheels/*.whl" > /dev/null; then
    site=$(mktemp -d "${TMPDIR:-/tmp}/danq-gpu-site.XXXXXX")
    trap 'rm -rf "$site"' EXIT
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" "$wheels"/*.whl \
        || { echo "gpu-check: error: could not install the wheels in $wheels" >&2; exit 1; }
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
# the interpreter's own bin folder first, for the tools tests start (torchrun, danq, snakemake)
export PATH="$(dirname "$("$py" -c 'import sys; print(sys.executable)')"):$PATH"
export PYTHONUNBUFFERED=1
if [ -z "$dry" ] && ! "$py" -c "import torch, sys; sys.exit(not torch.cuda.is_available())" 2> /dev/null; then
    echo "gpu-check: error: $py sees no CUDA device; run on a GPU machine, or add --dry-run to exercise the script on the CPU" >&2
    exit 2
fi
echo "gpu-check: $py, writing $out/results.json" >&2

# 1. the test suite's GPU tests; a test module that cannot be imported here is reported, not fatal
cd "$repo" || exit 2
timeout 150 "$py" -m pytest -m gpu -q -p no:cacheprovider --continue-on-collection-errors \
    --junitxml="$out/pytest_gpu.xml" > "$out/pytest_gpu.log" 2>&1
pytest_rc=$?
tail -n 3 "$out/pytest_gpu.log" >&2

# 2. train, predict, score-variants, DDP
# (timeouts: 150 s + 320 s, inside the 8 minutes the check is sized for)
timeout 320 "$py" "$repo/bench/gpu/check.py" --out "$out" $dry --junit "$out/pytest_gpu.xml" \
    --pytest-exit "$pytest_rc" 2>&1 | tee "$out/check.log"
