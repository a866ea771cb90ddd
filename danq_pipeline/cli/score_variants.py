"""`danq score-variants`: VCF -> per-allele, per-target effect scores (TSV, HDF5, annotated VCF)."""

from __future__ import annotations

import argparse
import sys

from danq_pipeline.cli import add_common_device_args, one_line_warnings
from danq_pipeline.cli.argtypes import api_default, fraction, positive_int

SCORER = "danq_pipeline.variants:iter_variant_scores"  # the defaults of the options passed on to it

HELP = """\
Score the effect of every ALT allele of a VCF with a trained DanQ model.

Inputs:  --model model.pt (danq train), --fasta genome (plain or BGZF; same build as the VCF),
         --vcf variants (VCF, VCF.gz or BCF; contig header lines optional).
Outputs: PREFIX.tsv     one row per ALT allele: chrom, pos, id, ref, alt, status, max_abs_diff,
                        top_target, then diff_<target> for the selected targets
         PREFIX.h5      ref_prob, alt_prob, diff, logodds matrices (alleles x all targets),
                        aligned to the TSV rows, plus the target table and statuses
         PREFIX.vcf.gz  the input records with DANQ_* INFO fields (bgzipped, + .tbi index)
Windows: L bp (the model's window) with the variant's first REF base at 0-based index L//2-1
         (499 for 1000 bp). The ALT window puts ALT at L//2-1 + floor((len(REF)-len(ALT))/2)
         (re-centred indels) and fills both flanks from the genome, so both windows are L bp.
Scores:  ref/alt probabilities (averaged over both strands unless --no-rc-average),
         diff = alt - ref, logodds = logit(alt) - logit(ref).
Status:  ok | unknown_contig | out_of_bounds | unsupported_allele (symbolic, *, ., non-ACGTN,
         longer than L/2) | ref_equals_alt | ref_mismatch | n_rich; every record appears,
         scores only for ok.
Significance: --background FILE (`danq background`) adds p_<target> = (1 + #background
         effects >= this effect) / (1 + n), combined_p (minP over targets, calibrated on the
         background) and top_p_targets to the TSV, /pvalue to the HDF5, DANQ_*_P* to the VCF.
Scatter: --chunk K/N scores the K-th of N contiguous record blocks; `danq gather-variants`
         joins the chunk outputs. See docs/formats.md, "Variant scores".
Progress: a bar on a terminal; when stderr is a file (workflow logs) a line every 30 s with
         records done/total, rate and ETA."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `score-variants` subparser."""
    p = sub.add_parser(
        "score-variants",
        help="score variants: model + FASTA + VCF -> PREFIX.{tsv,h5,vcf.gz}",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, metavar="PT", help="trained checkpoint (danq train)")
    p.add_argument("--fasta", required=True, help="genome FASTA the VCF refers to (plain or BGZF)")
    p.add_argument("--vcf", required=True, help="variants: VCF, VCF.gz or BCF")
    p.add_argument(
        "--out-prefix",
        required=True,
        metavar="PREFIX",
        help="write PREFIX.tsv, PREFIX.h5, PREFIX.vcf.gz",
    )
    p.add_argument(
        "--targets",
        metavar="NAME,NAME",
        help="targets shown in the TSV and VCF INFO (with --target-class: the union); default: "
        "all when the model has <= 64 targets, else none (summary columns only; the HDF5 always "
        "holds all)",
    )
    p.add_argument(
        "--target-class",
        metavar="CLASS,CLASS",
        help="target classes shown in the TSV and VCF INFO (DNase, TF, histone); default: see --targets",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop with an error (file:line) at the first REF that does not match the FASTA; "
        "default: report it as status ref_mismatch",
    )
    p.add_argument(
        "--rename-contigs",
        choices=("add-chr", "remove-chr"),
        help="rename VCF contigs before looking them up in the FASTA (outputs keep the VCF's "
        "names); default: names used as they are",
    )
    p.add_argument(
        "--no-rc-average",
        dest="rc_average",
        action="store_false",
        help="score the forward strand only; default: average the forward and reverse-complement "
        "predictions",
    )
    p.add_argument(
        "--max-n-fraction",
        type=fraction,
        default=api_default(SCORER, "max_n_fraction"),
        help="alleles whose ref or alt window has a larger fraction of N get status n_rich; "
        "default: %(default)s",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=api_default(SCORER, "batch_size"),
        help="ALT alleles per model call (each is 2-4 windows); default: %(default)s",
    )
    p.add_argument(
        "--no-shared-compute",
        dest="shared",
        action="store_false",
        help="score every window with a full forward pass instead of reusing the REF window's "
        "convolution and LSTM states for SNV/MNV ALT windows (same scores, slower); "
        "default: shared",
    )
    add_common_device_args(p)
    p.add_argument(
        "--index-dir",
        help="folder for the FASTA index when the FASTA's folder is read-only; "
        "default: next to the FASTA",
    )
    p.add_argument(
        "--chunk",
        metavar="K/N",
        help="score only the K-th of N contiguous record blocks "
        "(scatter; join with danq gather-variants); default: the whole VCF",
    )
    p.add_argument(
        "--threads", type=positive_int, help="CPU threads for torch; default: torch's choice"
    )
    p.add_argument(
        "--background",
        metavar="H5",
        help="a `danq background` file of this model: adds per-target "
        "p-values, a combined p per allele and the most significant targets; default: none",
    )
    p.set_defaults(func=run, command="score-variants")


def run(args: argparse.Namespace) -> int:
    """Call `danq_pipeline.variant_io.write_variant_scores` and print a status summary."""

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    with one_line_warnings("score-variants"):
        counts = _score(args)
    summary = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    print(
        f"danq score-variants: {sum(counts.values())} alleles ({summary or 'none'}) -> "
        f"{args.out_prefix}.tsv/.h5/.vcf.gz",
        file=sys.stderr,
    )
    return 0


def _score(args: argparse.Namespace) -> dict[str, int]:
    """The API call, with explicit keyword arguments."""
    from danq_pipeline.variants import write_variant_scores
    from danq_pipeline.vcf import parse_chunk

    return write_variant_scores(
        args.model,
        args.fasta,
        args.vcf,
        args.out_prefix,
        targets=args.targets,
        target_class=args.target_class,
        strict=args.strict,
        rename_contigs=args.rename_contigs,
        rc_average=args.rc_average,
        max_n_fraction=args.max_n_fraction,
        batch_size=args.batch_size,
        device=args.device,
        precision=args.precision,
        index_dir=args.index_dir,
        chunk=parse_chunk(args.chunk),
        shared=args.shared,
        background=args.background,
    )
