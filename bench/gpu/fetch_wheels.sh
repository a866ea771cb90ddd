#!/usr/bin/env bash
# Download, where pip can reach PyPI, the wheels a GPU machine without a package index lacks for
# bench/gpu/check.sh (its image has torch, numpy, pandas, h5py, scipy, scikit-learn, matplotlib,
# pytest, pyyaml, tqdm; not these). check.sh installs them from <repo>/.whl into a temporary
# folder. Python 3.12 on x86-64 by default (PYVER=3.11 for another); keep .whl out of git:
#   echo /.whl/ >> .git/info/exclude; bash bench/gpu/fetch_wheels.sh
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dest=${1:-$repo/.whl}
pyver=${PYVER:-3.12}
mkdir -p "$dest"
# pyfaidx (FASTA) + biopython (its BGZF reader, for the demo genome), pysam (VCF in/out) and
# pybedtools (imported by test modules that pytest collects): 22 MB of wheels, inside the 64 MiB
# a lent machine's working tree may hold. logomaker and pyjaspar (70 MB) are left out: pytest -m
# gpu collects without them. Versions: the project's .venv when this was written.
for spec in pyfaidx==0.9.2.2 biopython==1.88 pysam==0.24.1 pybedtools==0.12.1; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$pyver" --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$dest" "$spec"
done
ls -l "$dest"
