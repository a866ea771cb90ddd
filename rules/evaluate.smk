rule evaluate:
    input:
        model=MODEL,
        test=f"{WINDOWS}/test.h5",
        train=f"{WINDOWS}/train.h5" if config["evaluate"]["baseline"] else [],
        reference=config["evaluate"]["reference"] or [],
    output:
        metrics=f"{EVALUATE}/metrics.tsv",
        summary=f"{EVALUATE}/summary.tsv",
        predictions=f"{EVALUATE}/predictions.h5",
    log:
        "logs/evaluate.log",
    benchmark:
        "benchmarks/evaluate.tsv"
    conda:
        "../envs/danq.yaml"
    threads: all_cores()
    resources:
        mem_mb=16000,
    params:
        src=SRC,
        out_dir=lambda wc, output: os.path.dirname(output.metrics),
        baseline=(
            f"--train {WINDOWS}/train.h5 --baseline-k {config['evaluate']['baseline_k']}"
            if config["evaluate"]["baseline"]
            else "--no-baseline"
        ),
        reference=opt("--reference", config["evaluate"]["reference"]),
        rc=flag("--no-rc-average", not config["evaluate"]["rc_average"]),
        batch_size=config["evaluate"]["batch_size"],
        device=config["evaluate"]["device"],
        precision=config["evaluate"]["precision"],
    shell:
        """
        OMP_NUM_THREADS={threads} PYTHONPATH={params.src:q} python -m danq_pipeline evaluate \
            --model {input.model:q} --data {input.test:q} --out-dir {params.out_dir:q} \
            {params.baseline} {params.reference} {params.rc} \
            --batch-size {params.batch_size} --device {params.device} --precision {params.precision} \
            > {log:q} 2>&1
        """


rule report:
    input:
        metrics=f"{EVALUATE}/metrics.tsv",
        history=HISTORY,
        motifs=motif_outputs(),
        variants=[p for p in variant_outputs() if p.endswith(".tsv")],
        modisco=modisco_outputs(),
    output:
        report(
            "results/report/report.html",
            caption="../report/report.rst",
            category="Report",
        ),
    log:
        "logs/report.log",
    conda:
        "../envs/danq.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        src=SRC,
        motifs=opt("--motifs-dir", "results/motifs" if motif_outputs() else ""),
        variants=opt(
            "--variants", " ".join(p for p in variant_outputs() if p.endswith(".tsv"))
        ),
        modisco=opt(
            "--modisco-dirs", " ".join(os.path.dirname(p) for p in modisco_outputs())
        ),
    shell:
        """
        PYTHONPATH={params.src:q} python -m danq_pipeline report \
            --evaluate-dir $(dirname {input.metrics:q}) --history {input.history:q} \
            {params.motifs} {params.variants} {params.modisco} --out {output:q} \
            > {log:q} 2>&1
        """
