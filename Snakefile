# danq-pipeline workflow: genome + peaks -> labelled windows -> DanQ -> metrics, report, variant scores.
# Run:  snakemake --cores all                       (the demo, config.yaml)
#       snakemake --cores all --configfile my.yaml  (your data instead of config.yaml; copy it, edit)
#       snakemake --executor slurm --jobs 50 ...    (a cluster, via a Snakemake executor plugin)
from snakemake.utils import min_version

min_version("9.0")


# `--configfile my.yaml` replaces the demo's config.yaml instead of being merged into it
# (Snakemake's default merge kept the demo's VCFs and ISM regions in a user's run);
# `--config key=value` alone still edits the demo.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "rules/common.smk"


wildcard_constraints:
    vcf=r"[A-Za-z0-9_.-]+",
    region=r"[A-Za-z0-9_.-]+",
    target=r"[A-Za-z0-9_-]+",
    split=r"train|valid|test",


if "deepsea" in config:

    include: "rules/deepsea.smk"

else:

    include: "rules/prepare.smk"


include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/variants.smk"
include: "rules/interpret.smk"
include: "rules/attribute.smk"
include: "rules/predict.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
