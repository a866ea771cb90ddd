#!/usr/bin/env bash
# Make sure the `bedtools` binary that pybedtools drives is on PATH (and bgzip/tabix for
# indexed VCF output). Installs the Debian packages when missing and we may; otherwise
# stops with one line saying what to do.
set -euo pipefail
need=()
command -v bedtools >/dev/null 2>&1 || need+=(bedtools)
command -v bgzip >/dev/null 2>&1 || need+=(tabix)
[ ${#need[@]} -eq 0 ] && exit 0
echo "setup: installing ${need[*]} (Debian packages)" >&2
if command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
    if { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"; } >/dev/null 2>&1; then
        exit 0
    fi
fi
echo "setup: error: could not install ${need[*]}; install it yourself (Debian/Ubuntu: 'apt-get install bedtools tabix', conda: 'conda install -c bioconda bedtools htslib', macOS: 'brew install bedtools htslib') and run make again" >&2
exit 1
