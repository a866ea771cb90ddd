"""Selene 0.6 child of bench_predict.py: AnalyzeSequences.get_predictions_for_bed_file with our weights.

Run by the Selene virtualenv's python (bench/.venv-selene; see bench/train/bench_selene.py).
The network is our DanQ (LSTM along the sequence; Selene's shipped DanQ runs it across the
batch axis) followed by a sigmoid, as Selene expects probabilities from the model; with
--rc-average it is wrapped in Selene's NonStrandSpecific(mode="mean"), its strand averaging.
Prints one JSON line: seconds for the BED call (model already loaded), regions, threads.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from selene_sdk.predict import AnalyzeSequences
from selene_sdk.sequences import Genome
from selene_sdk.utils import NonStrandSpecific
from torch import nn

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--fasta", type=Path, required=True)
    p.add_argument("--bed", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rc-average", action="store_true")
    args = p.parse_args()
    sys.path.insert(0, str(REPO))
    from danq_pipeline.model import load_model

    torch.set_num_threads(args.threads)
    trained = load_model(args.model, "cpu")
    model = nn.Sequential(trained.net, nn.Sigmoid())
    if args.rc_average:
        model = NonStrandSpecific(model, mode="mean")
    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / "selene_weights.pt"
    torch.save(model.state_dict(), weights)
    analysis = AnalyzeSequences(
        model,
        str(weights),
        sequence_length=trained.window,
        features=list(trained.targets["name"]),
        batch_size=args.batch_size,
        use_cuda=False,
        reference_sequence=Genome(str(args.fasta)),
    )
    n = sum(1 for ln in open(args.bed) if ln.strip())
    t = time.perf_counter()
    analysis.get_predictions_for_bed_file(str(args.bed), str(args.out), output_format="tsv")
    dt = time.perf_counter() - t
    print(json.dumps({"seconds": dt, "windows": n, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
