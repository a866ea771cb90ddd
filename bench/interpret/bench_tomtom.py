"""Motif matching vs the DanQ paper's own TOMTOM run: agreement and speed.

The DanQ authors matched their 320 first-layer filters (`motifs/DanQ.meme` in uci-cbcl/DanQ)
with TOMTOM 4.11 (`-dist pearson -min-overlap 5 -evalue -thresh 0.01`, complete scores) against
JASPAR CORE 2016 vertebrates, jolma2013 and uniprobe mouse (1,748 targets; their header in
`motifs/DanQ_TOMTOM/tomtom.xml`). TOMTOM's E = p x 1,748 <= 0.01 is the p-value cut
p <= 0.01 / 1,748. This script matches the same filters against JASPAR 2016 CORE vertebrates
(pyjaspar, offline) with `danq_pipeline.motifs.match_motifs` and, when it is installed, with
memelite's TOMTOM, and reports, at that p-value cut and restricted to TOMTOM's JASPAR rows:

* recall: filters TOMTOM matched to a JASPAR motif that the matcher also calls significant;
* best-TF agreement: of those, filters whose best JASPAR match has the same TF name;
* extra calls: filters the matcher calls significant that TOMTOM did not match to JASPAR;
* the ratio (matcher / TOMTOM) of p-values on TOMTOM's significant (filter, JASPAR) pairs:
  median, and 10th-90th percentiles;
* wall time of each matcher in this run.

The DanQ repository is under a non-commercial licence, so nothing of it is copied here: the
two files are read at run time, by default from a local git mirror (`git show`).

    flock /tmp/danq-bench.lock .venv/bin/python bench/interpret/bench_tomtom.py
    ... --meme DanQ.meme --tomtom tomtom.txt          # files instead of the mirror
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from danq_pipeline.jaspar import load_jaspar
from danq_pipeline.motifs import PFM, match_motifs, read_meme

MIRROR = "/work/.mirror/uci-cbcl+DanQ/repo"
TOMTOM_TARGETS = (
    519 + 843 + 386
)  # JASPAR 2016 vertebrates + jolma2013 + uniprobe mouse (tomtom.xml)
TOMTOM_EVALUE = 0.01  # -evalue -thresh 0.01


def _git_show(mirror: str, path: str) -> str:
    return subprocess.run(
        ["git", "-C", mirror, "show", f"HEAD:{path}"], check=True, capture_output=True, text=True
    ).stdout


def load_inputs(args) -> tuple[list[PFM], pd.DataFrame]:
    """The 320 DanQ filters and TOMTOM's result rows (from files or the mirror)."""
    meme = Path(args.meme).read_text() if args.meme else _git_show(args.mirror, "motifs/DanQ.meme")
    tom = (
        Path(args.tomtom).read_text()
        if args.tomtom
        else _git_show(args.mirror, "motifs/DanQ_TOMTOM/tomtom.txt")
    )
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "q.meme").write_text(meme)
        queries = read_meme(Path(tmp) / "q.meme")
        (Path(tmp) / "t.txt").write_text(tom)
        table = pd.read_csv(Path(tmp) / "t.txt", sep="\t")
    table = table.rename(
        columns={"#Query ID": "query", "Target ID": "target_id", "p-value": "pvalue"}
    )
    return queries, table


def agreement(
    pairs: pd.DataFrame, tomtom: pd.DataFrame, names: dict[str, str], p_cut: float
) -> dict:
    """Recall, best-TF agreement, extra calls and p-value ratio of `pairs` vs TOMTOM's JASPAR rows.

    `pairs` has one row per (query, target_id) with a `pvalue`; `tomtom` holds TOMTOM's rows.
    """
    tom = tomtom[tomtom["target_id"].isin(names)]
    tom_best = tom.loc[tom.groupby("query")["pvalue"].idxmin()].set_index("query")["target_id"]
    sig = pairs[pairs["pvalue"] <= p_cut]
    ours_best = sig.loc[sig.groupby("query")["pvalue"].idxmin()].set_index("query")["target_id"]
    found = tom_best.index.intersection(ours_best.index)
    same = sum(names[tom_best[q]].upper() == names[ours_best[q]].upper() for q in found)
    extra = ours_best.index.difference(tom_best.index)
    both = tom.merge(pairs, on=["query", "target_id"], suffixes=("_tomtom", ""))
    ratio = np.percentile(both["pvalue"] / both["pvalue_tomtom"], [10, 50, 90])
    return {
        "tomtom": len(tom_best),
        "found": len(found),
        "same_tf": same,
        "extra": len(extra),
        "called": len(ours_best),
        "p_ratio": ratio,
        "extra_names": list(extra),
    }


def run_ours(queries: list[PFM], jaspar) -> pd.DataFrame:
    return match_motifs(queries, jaspar)[["query", "target_id", "pvalue"]]


def run_memelite(queries: list[PFM], jaspar) -> pd.DataFrame:
    from memelite import tomtom

    p = tomtom([q.probs for q in queries], [m.pfm for m in jaspar])[0]
    q_idx, t_idx = np.meshgrid(np.arange(len(queries)), np.arange(len(jaspar)), indexing="ij")
    return pd.DataFrame(
        {
            "query": [queries[i].name for i in q_idx.ravel()],
            "target_id": [jaspar[j].matrix_id for j in t_idx.ravel()],
            "pvalue": p.ravel(),
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--meme", help="DanQ.meme (default: read from --mirror)")
    ap.add_argument("--tomtom", help="DanQ_TOMTOM/tomtom.txt (default: read from --mirror)")
    ap.add_argument(
        "--mirror", default=MIRROR, help="git directory of uci-cbcl/DanQ; default: %(default)s"
    )
    ap.add_argument(
        "--release", default="JASPAR2016", help="pyjaspar release; default: %(default)s"
    )
    ap.add_argument("--no-memelite", action="store_true", help="skip memelite even when installed")
    args = ap.parse_args()
    queries, tomtom = load_inputs(args)
    jaspar = load_jaspar(release=args.release)
    names = {m.matrix_id: m.name for m in jaspar}
    p_cut = TOMTOM_EVALUE / TOMTOM_TARGETS
    runners: list[tuple[str, Callable]] = [("danq_pipeline.motifs.match_motifs", run_ours)]
    if not args.no_memelite:
        try:
            import memelite  # noqa: F401

            runners.append(
                ("memelite.tomtom (first call: numba JIT, or its on-disk cache)", run_memelite)
            )
            runners.append(("memelite.tomtom (second call)", run_memelite))
        except ImportError:
            print("memelite not installed: skipped")
    print(
        f"{len(queries)} DanQ filters x {len(jaspar)} {args.release} CORE vertebrates; "
        f"TOMTOM's cut p <= {TOMTOM_EVALUE} / {TOMTOM_TARGETS} = {p_cut:.3g}"
    )
    print(
        "| matcher | TOMTOM's JASPAR matches found | best TF agrees | extra calls | "
        "p ratio (matcher / TOMTOM): median [10th, 90th pct] | wall time |"
    )
    print("|---|---|---|---|---|---|")
    for label, run in runners:
        t0 = time.perf_counter()
        pairs = run(queries, jaspar)
        wall = time.perf_counter() - t0
        a = agreement(pairs, tomtom, names, p_cut)
        print(
            f"| {label} | {a['found']}/{a['tomtom']} ({a['found'] / a['tomtom']:.1%}) | "
            f"{a['same_tf']}/{a['found']} ({a['same_tf'] / max(a['found'], 1):.1%}) | "
            f"{a['extra']} ({a['extra'] / a['tomtom']:.1%} of TOMTOM's) | "
            f"{a['p_ratio'][1]:.3g} [{a['p_ratio'][0]:.2g}, {a['p_ratio'][2]:.2g}] | {wall:.1f} s |"
        )


if __name__ == "__main__":
    main()
