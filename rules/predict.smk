# Predictions for regions (optional; config `predict.regions`, a BED, "" = none): danq predict
# -> results/predict/regions.{tsv,h5}, and with predict.bigwig one bigWig per selected target in
# results/predict/tracks/ (docs/formats.md, "Region predictions").
PREDICT = config["predict"]
PREDICT_OUT = {
    "tsv": "results/predict/regions.tsv",
    "h5": "results/predict/regions.h5",
}
if PREDICT["bigwig"]:
    PREDICT_OUT["tracks"] = directory("results/predict/tracks")


if PREDICT["regions"] and has_genome():

    rule predict_regions:
        input:
            model=MODEL,
            fasta=config["genome"]["fasta"] if has_genome() else [],
            bed=PREDICT["regions"],
        output:
            **PREDICT_OUT,
        log:
            "logs/predict.log",
        benchmark:
            "benchmarks/predict.tsv"
        conda:
            "../envs/danq.yaml"
        threads: 1
        resources:
            mem_mb=4000,
        params:
            src=SRC,
            prefix=lambda wc, output: output.tsv[: -len(".tsv")],
            bigwig=lambda wc, output: opt("--bigwig", output.get("tracks", "")),
            targets=opt("--targets", PREDICT["targets"]),
            target_class=opt("--target-class", PREDICT["target_class"]),
            stride=opt("--stride", PREDICT["stride"]),
            pad=flag("--pad-short", PREDICT["pad_short"]),
            rc=flag("--no-rc-average", not PREDICT["rc_average"]),
            device=PREDICT["device"],
            precision=PREDICT["precision"],
        shell:
            """
            OMP_NUM_THREADS={threads} PYTHONPATH={params.src:q} python -m danq_pipeline predict \
                --model {input.model:q} --fasta {input.fasta:q} --bed {input.bed:q} \
                --out-prefix {params.prefix:q} {params.bigwig} {params.targets} {params.target_class} \
                {params.stride} {params.pad} {params.rc} --device {params.device} --precision {params.precision} \
                > {log:q} 2>&1
            """
