"""`danq attribute`: per-base attribution maps (expected gradients or gradient x input)."""

from __future__ import annotations

import argparse
import sys

from danq_pipeline.cli.argtypes import api_default, non_negative_int, positive_float, positive_int

DESCRIPTION = """\
Explain the model's prediction (the logit) for one or more targets base by base, through the
whole network (convolution, BiLSTM, dense layers).

Methods:
  expected_gradients  integrated gradients from --shuffles dinucleotide-shuffled copies of each
                      window (same base and dinucleotide composition), --steps Gauss-Legendre
                      points per path, averaged over the copies (captum IntegratedGradients)
  grad_x_input        gradient x one-hot input (reference: all zeros); fast, not complete

Windows (exactly one source):
  --data FILE.h5      a windows HDF5 from `danq prepare` (select with --rows, --positives-of)
  --bed FILE --fasta  the model-length window centred on each region of a BED file
  --sequences FILE    sequences (FASTA, or one per line), centred and padded with N

Output (--out, HDF5, format danq-attributions; see docs/formats.md): contrib and hypothetical
(targets x windows x 4 x L; hypothetical = TF-MoDISco's hypothetical contributions), the window
coordinates and sequences, f(x), the mean f(reference), and each map's completeness error
sum(map) - (f(x) - mean f(reference)), flagged when |error| > --tolerance x max(1, |f(x) - f(ref)|)."""


def _default(name: str):
    """A default of the API function's signature (defaults live once, in the API)."""
    return api_default("danq_pipeline.attribute:run_attribute", name)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `attribute` subparser."""
    p = sub.add_parser(
        "attribute",
        help="per-base attribution maps (expected gradients, gradient x input)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="checkpoint from `danq train` (.pt)")
    p.add_argument(
        "--out", required=True, help="output HDF5 file, e.g. results/attributions/test.h5"
    )
    p.add_argument(
        "--targets",
        required=True,
        help="comma-separated target names to explain (the model's names, e.g. H3K4me3_neuron)",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="windows HDF5 (e.g. results/windows/test.h5)")
    src.add_argument(
        "--bed", help="BED file of regions; each gets the window centred on it (needs --fasta)"
    )
    src.add_argument(
        "--sequences", help="sequences file: FASTA or one sequence per line (A,C,G,T,N)"
    )
    p.add_argument("--fasta", help="genome FASTA for --bed (plain or BGZF)")
    p.add_argument(
        "--rows",
        default=None,
        help="with --data: rows to explain, 0-based, as ranges and numbers (0:500,1200); default: all",
    )
    p.add_argument(
        "--positives-of",
        default=None,
        help="with --data: keep only the windows labelled positive for this target of the file",
    )
    p.add_argument(
        "--max-windows",
        type=non_negative_int,
        default=0,
        help="explain at most this many windows (the first selected); 0 = all; default: %(default)s",
    )
    p.add_argument(
        "--method",
        choices=("expected_gradients", "grad_x_input"),
        default=_default("method"),
        help="attribution method (see above); default: %(default)s",
    )
    p.add_argument(
        "--shuffles",
        type=positive_int,
        default=_default("n_shuffles"),
        help="expected_gradients: shuffled references per window; default: %(default)s",
    )
    p.add_argument(
        "--steps",
        type=positive_int,
        default=_default("n_steps"),
        help="expected_gradients: integration points per path; default: %(default)s",
    )
    p.add_argument(
        "--seed",
        type=non_negative_int,
        default=_default("seed"),
        help="seed of the shuffles (a window gets the same references in any run); default: %(default)s",
    )
    p.add_argument(
        "--tolerance",
        type=positive_float,
        default=_default("tolerance"),
        help="completeness tolerance, relative to max(1, |f(x) - f(ref)|) logits; default: %(default)s",
    )
    p.add_argument(
        "--dtype",
        choices=("float16", "float32"),
        default=_default("dtype"),
        help="storage type of the maps; default: %(default)s",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=_default("batch_size"),
        help="windows per written batch; default: %(default)s",
    )
    p.add_argument(
        "--chunk",
        type=positive_int,
        default=_default("chunk"),
        help="most interpolated windows per forward/backward pass (bounds memory); default: %(default)s",
    )
    p.add_argument(
        "--device",
        default="auto",
        help="cpu, cuda, cuda:N, or auto (CUDA when available); gradients are computed in fp32; "
        "default: %(default)s",
    )
    p.set_defaults(func=run, command="attribute")


def run(args: argparse.Namespace) -> int:
    """Compute the maps and report how many are flagged."""
    import h5py

    from danq_pipeline.attribute import run_attribute

    path = run_attribute(
        args.model,
        args.out,
        data=args.data,
        rows=args.rows,
        positives_of=args.positives_of,
        bed=args.bed,
        fasta=args.fasta,
        sequences=args.sequences,
        targets=[t.strip() for t in args.targets.split(",") if t.strip()],
        method=args.method,
        n_shuffles=args.shuffles,
        n_steps=args.steps,
        seed=args.seed,
        tolerance=args.tolerance,
        dtype=args.dtype,
        max_windows=args.max_windows or None,
        batch_size=args.batch_size,
        chunk=args.chunk,
        device=args.device,
        progress=True,
    )
    with h5py.File(path, "r") as h5:
        t, n = h5["flagged"].shape
        flagged = int(h5.attrs["n_flagged"])
    print(
        f"attribute: {n} windows x {t} targets ({args.method}); {flagged} maps exceed the completeness "
        f"tolerance{' (raise --steps)' if flagged and args.method == 'expected_gradients' else ''}; wrote {path}",
        file=sys.stderr,
    )
    return 0
