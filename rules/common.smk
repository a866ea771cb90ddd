# Shared helpers: config validation, input functions, constants. No rules here.
import csv
import sys
import os
from pathlib import Path

from snakemake.utils import validate


def config_error(message):
    """Stop the workflow with one line on stderr (no traceback): the user's config is wrong."""
    print(f"danq workflow: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def check_config(cfg, schema_path):
    """Reject unknown keys and wrong types in one line naming the key, before Snakemake's
    own validation (which also fills the schema's defaults) prints the whole schema."""
    import jsonschema
    import yaml

    with open(schema_path) as fh:
        schema = yaml.safe_load(fh)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(cfg), key=str)
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "top level"
        wanted = (
            f"; expected {err.schema['description']}"
            if err.validator == "anyOf"
            else ""
        )
        config_error(
            f"config key {where}: {err.message}{wanted} (see config.yaml for every key)"
        )


check_config(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml")
validate(config, schema="../schemas/config.schema.yaml")


# Rules reach the package with the repo root on PYTHONPATH and run the `danq` CLI as python -m,
# so it works both in the project's virtualenv and in the conda env of `--sdm conda`
SRC = workflow.basedir
# Fallback threads for the rules that use every core (train, evaluate, motifs) when no --cores is
# given, as with a cluster executor; profiles/slurm/config.yaml sets each rule's threads.
CLUSTER_THREADS = 8


def all_cores():
    """--cores N when given, else CLUSTER_THREADS: `workflow.cores` raises without --cores, which
    stopped `snakemake --executor slurm --jobs N` (no --cores) before its first job."""
    from snakemake_interface_common.exceptions import WorkflowError

    try:
        return workflow.cores
    except WorkflowError:
        return CLUSTER_THREADS


WINDOWS = "results/windows"
MODEL = "results/model/danq.pt"
HISTORY = "results/model/history.tsv"
EVALUATE = "results/evaluate"


def check_inputs():
    """Fail early, in one line, when the config names a file that does not exist."""
    paths = []
    if "deepsea" not in config:
        for key in ("genome", "targets"):
            if key not in config:
                config_error(f"missing required config key '{key}' (see config.yaml)")
        paths += [
            ("genome.fasta", config["genome"]["fasta"]),
            ("targets", config["targets"]),
        ]
        if config["prepare"].get("blacklist"):
            paths.append(("prepare.blacklist", config["prepare"]["blacklist"]))
    else:
        paths += [
            (f"deepsea.{k}", config["deepsea"][k]) for k in ("train", "valid", "test")
        ]
    if has_genome():
        vcfs = config["variants"].get("vcfs", {})
        paths += [(f"variants.vcfs.{k}", v) for k, v in vcfs.items()]
        if config["variants"].get("background"):
            paths.append(("variants.background", config["variants"]["background"]))
        if config["predict"].get("regions"):
            paths.append(("predict.regions", config["predict"]["regions"]))
    if config["evaluate"].get("reference"):
        paths.append(("evaluate.reference", config["evaluate"]["reference"]))
    for key, path in paths:
        if not Path(path).exists():
            config_error(
                f"config key {key} = {path!r}: no such file (paths are relative to {Path.cwd()})"
            )


def peak_files():
    """Every peak file the targets sheet names (so editing a peak file re-runs prepare)."""
    sheet = Path(config["targets"])
    with open(sheet, newline="") as fh:
        rows = csv.DictReader(fh, delimiter="\t")
        return [str(sheet.parent / row["file"]) for row in rows if row.get("file")]


def opt(flag, value):
    """'--flag value' when value is set (non-empty), else ''."""
    return f"{flag} {value}" if value not in (None, "", 0, False) else ""


def flag(name, on):
    """'--name' when `on`, else ''."""
    return name if on else ""


def has_genome():
    """Variant scoring and ISM need a genome FASTA (a DeepSEA import has none)."""
    return "genome" in config and "deepsea" not in config


def variant_outputs():
    if not has_genome():
        return []
    names = config["variants"].get("vcfs", {})
    return [
        f"results/variants/{name}.{ext}"
        for name in names
        for ext in ("tsv", "h5", "vcf.gz")
    ]


def ism_regions():
    regions = config["interpret"].get("ism_regions", "")
    return [r.strip() for r in regions.split(",") if r.strip()] if has_genome() else []


def region_slug(region):
    return region.replace(":", "_").replace("-", "_").replace(",", "")


def motif_outputs():
    return (
        ["results/motifs/motif_matches.tsv"]
        if config["interpret"].get("motifs")
        else []
    )


def attribution_targets():
    """Targets whose attributions and TF-MoDISco motifs the workflow makes (default: none)."""
    return list(config["interpret"].get("attribution_targets", []))


def modisco_outputs():
    return [f"results/modisco/{t}/patterns.tsv" for t in attribution_targets()]


def ism_outputs():
    return [f"results/ism/{region_slug(r)}.h5" for r in ism_regions()]


def predict_outputs():
    """danq predict's tables (and tracks) when predict.regions names a BED."""
    if not (has_genome() and config["predict"].get("regions")):
        return []
    tracks = ["results/predict/tracks"] if config["predict"]["bigwig"] else []
    return ["results/predict/regions.tsv", "results/predict/regions.h5", *tracks]


def final_outputs():
    return [
        f"{EVALUATE}/metrics.tsv",
        "results/report/report.html",
        *variant_outputs(),
        *motif_outputs(),
        *ism_outputs(),
        *modisco_outputs(),
        *predict_outputs(),
    ]


check_inputs()
