"""Selene 0.6 baseline: its DanQ-style training end to end (RandomPositionsSampler + TrainModel).

Runs inside its own virtualenv (selene-sdk 0.6.0 pins torch <= 2.3.1 and has its own deps):

    python3 -m venv bench/.venv-selene
    bench/.venv-selene/bin/pip install torch==2.13.0 'setuptools<81' six pytabix pysam numpy scipy \
        pandas h5py scikit-learn matplotlib pyfaidx biopython click pyyaml ruamel.yaml statsmodels \
        seaborn plotly cython wheel   # biopython: pyfaidx needs it to read the BGZF demo FASTA
    bench/.venv-selene/bin/pip install --no-deps --no-build-isolation selene-sdk==0.6.0
    bench/.venv-selene/bin/python bench/train/bench_selene.py   # bench_train.py runs it twice itself

The model is DanQ at the paper's size (320 x 26 conv, pool 13, BiLSTM 320+320 run along the
sequence, dense 925, 919 sigmoid outputs: the demo's 13 peak sets plus 906 never-positive
names so the output layer matches the danq preset), trained the Selene way (sigmoid + BCELoss,
its sampler drawing random positions from the real chr22 FASTA and a tabix BED of peaks).
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "hg19_chr22"


class SeleneDanQ(nn.Module):
    """DanQ with the LSTM along the sequence (batch_first), sigmoid output as Selene trains it."""

    def __init__(self, seq_len: int = 1000, n_targets: int = 919) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(4, 320, 26), nn.ReLU(), nn.MaxPool1d(13, 13), nn.Dropout(0.2)
        )
        self.lstm = nn.LSTM(320, 320, batch_first=True, bidirectional=True)
        steps = (seq_len - 26 + 1) // 13
        self.head = nn.Sequential(
            nn.Dropout(0.5),
            nn.Flatten(),
            nn.Linear(steps * 640, 925),
            nn.ReLU(),
            nn.Linear(925, n_targets),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(self.conv(x).transpose(1, 2))
        return self.head(h)


# contigs cut from the demo's chr22 (mostly N before 16 Mb): name -> (start, end)
CONTIGS = {"chrT": (18_000_000, 22_000_000), "chrV": (17_000_000, 18_000_000)}


def demo_inputs(tmp: Path) -> tuple[Path, Path, list[str]]:
    """A FASTA of two pieces of the demo chr22 (train chrT, validation chrV: Selene holds out
    whole contigs) and a tabix BED (chrom, start, end, feature) of the demo peaks on them."""
    import pysam

    with gzip.open(next((DEMO / "genome").glob("*.fa.gz")), "rt") as fh:
        seq = "".join(line.strip() for line in fh if not line.startswith(">"))
    fasta = tmp / "genome.fa"
    fasta.write_text("".join(f">{name}\n{seq[a:b]}\n" for name, (a, b) in CONTIGS.items()))
    rows, names = [], []
    for line in (DEMO / "targets.tsv").read_text().splitlines()[1:]:
        name, path = line.split("\t")[:2]
        names.append(name)
        with gzip.open(DEMO / path, "rt") as fh:
            for f in (x.split("\t") for x in fh):
                for contig, (a, b) in CONTIGS.items():
                    s, e = max(int(f[1]), a), min(int(f[2]), b)
                    if f[0] == "chr22" and s < e:
                        rows.append((contig, s - a, e - a, name))
    bed = tmp / "peaks.bed"
    bed.write_text("".join(f"{c}\t{s}\t{e}\t{n}\n" for c, s, e, n in sorted(rows)))
    pysam.tabix_index(str(bed), preset="bed", force=True)
    return fasta, Path(str(bed) + ".gz"), names


def serve(trainer, batch_size: int) -> int:
    """Line protocol for bench_train.py's interleaved rounds: read N, run N steps, print win/s."""
    import sys

    print("ready", flush=True)
    for line in sys.stdin:
        steps = int(line)
        t0 = time.perf_counter()
        for _ in range(steps):
            trainer.train()
        print(f"RATE {steps * batch_size / (time.perf_counter() - t0)}", flush=True)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--batch-size", type=int, default=64, help="Selene's usual DanQ batch; default: %(default)s"
    )
    p.add_argument("--threads", type=int, default=2, help="default: %(default)s")
    p.add_argument("--steps", type=int, default=20, help="timed steps; default: %(default)s")
    p.add_argument("--json", type=Path, help="write the result here")
    p.add_argument(
        "--serve",
        action="store_true",
        help="timed rounds on request (stdin/stdout) for bench_train.py",
    )
    args = p.parse_args()
    import selene_sdk
    from selene_sdk import TrainModel
    from selene_sdk.samplers import RandomPositionsSampler
    from selene_sdk.sequences import Genome

    with tempfile.TemporaryDirectory() as tmp:
        fasta, bed, names = demo_inputs(Path(tmp))
        features = names + [f"absent_{i}" for i in range(919 - len(names))]
        sampler = RandomPositionsSampler(
            Genome(str(fasta)),
            str(bed),
            features,
            seed=1,
            validation_holdout=["chrV"],
            test_holdout=[],
            sequence_length=1000,
            center_bin_to_predict=200,
        )
        t_sampler = time.perf_counter()
        for _ in range(5):
            sampler.sample(batch_size=args.batch_size)
        sampler_rate = 5 * args.batch_size / (time.perf_counter() - t_sampler)
        torch.manual_seed(1)
        trainer = TrainModel(
            SeleneDanQ(),
            sampler,
            nn.BCELoss(),
            torch.optim.RMSprop,
            dict(lr=1e-3, alpha=0.9, eps=1e-6),
            batch_size=args.batch_size,
            max_steps=10**6,
            report_stats_every_n_steps=10**6,
            output_dir=str(Path(tmp) / "out"),
            n_validation_samples=args.batch_size,
            cpu_n_threads=args.threads,
            use_cuda=False,
            scheduler_kwargs=dict(patience=16, factor=0.8),
        )  # its default minus `verbose` (gone from torch)
        for _ in range(2):
            trainer.train()
        if args.serve:
            return serve(trainer, args.batch_size)
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            trainer.train()
            times.append(time.perf_counter() - t0)
        times.sort()
        rate = args.batch_size / times[len(times) // 2]  # median step: robust on a shared machine
    res = {
        "selene": selene_sdk.__version__,
        "torch": torch.__version__,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "win_s": rate,
        "sampler_win_s": sampler_rate,
    }
    print(
        f"Selene {res['selene']} DanQ end to end: {rate:.1f} win/s (batch {args.batch_size}, {args.threads} "
        f"threads); its sampler alone {sampler_rate:.0f} win/s",
        flush=True,
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
