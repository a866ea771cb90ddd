# score-variants: VCF -> results/variants/{vcf}.{tsv,h5,vcf.gz}; see docs/formats.md "Variant scores".
# With variants.chunks = N > 1 each VCF is scattered into N contiguous record blocks scored as
# parallel jobs (a cluster executor spreads them), then gathered into the same three files.
N_CHUNKS = config["variants"]["chunks"]
# variants.background (a VCF, or ""): its per-target effect null, built once, gives every
# scored VCF per-target p-values and a combined p (danq background; docs/formats.md)
BACKGROUND = (
    "results/background/background.h5" if config["variants"].get("background") else ""
)


# one chunk: score straight into the final files; N chunks: temporary chunk files + gather
SCORED = (
    "results/variants/{vcf}"
    if N_CHUNKS == 1
    else f"results/variants/chunks/{{vcf}}/{{k}}-of-{N_CHUNKS}"
)
SCORED_LOG = "{vcf}" if N_CHUNKS == 1 else f"{{vcf}}.{{k}}-of-{N_CHUNKS}"
scored = (lambda path: path) if N_CHUNKS == 1 else temp


rule score_variants:
    input:
        model=MODEL,
        fasta=config["genome"]["fasta"] if has_genome() else [],
        vcf=lambda wc: config["variants"]["vcfs"][wc.vcf],
        background=BACKGROUND or [],
    output:
        tsv=scored(f"{SCORED}.tsv"),
        h5=scored(f"{SCORED}.h5"),
        vcf=scored(f"{SCORED}.vcf.gz"),
        tbi=scored(f"{SCORED}.vcf.gz.tbi"),
    log:
        f"logs/variants/{SCORED_LOG}.log",
    benchmark:
        f"benchmarks/variants/{SCORED_LOG}.tsv"
    conda:
        "../envs/danq.yaml"
    threads: 1
    resources:
        mem_mb=8000,
    params:
        src=SRC,
        prefix=lambda wc, output: output.tsv[: -len(".tsv")],
        chunk=lambda wc: f"--chunk {wc.k}/{N_CHUNKS}" if N_CHUNKS > 1 else "",
        rc=flag("--no-rc-average", not config["variants"]["rc_average"]),
        batch_size=config["variants"]["batch_size"],
        device=config["variants"]["device"],
        precision=config["variants"]["precision"],
        background=opt("--background", BACKGROUND),
    shell:
        """
        OMP_NUM_THREADS={threads} PYTHONPATH={params.src:q} python -m danq_pipeline score-variants \
            --model {input.model:q} --fasta {input.fasta:q} --vcf {input.vcf:q} \
            --out-prefix {params.prefix:q} {params.chunk} {params.rc} {params.background} \
            --batch-size {params.batch_size} --device {params.device} --precision {params.precision} \
            > {log:q} 2>&1
        """


if BACKGROUND:

    rule variant_background:
        input:
            model=MODEL,
            fasta=config["genome"]["fasta"] if has_genome() else [],
            vcf=config["variants"]["background"],
        output:
            BACKGROUND,
        log:
            "logs/background.log",
        benchmark:
            "benchmarks/background.tsv"
        conda:
            "../envs/danq.yaml"
        threads: 1
        resources:
            mem_mb=8000,
        params:
            src=SRC,
            rc=flag("--no-rc-average", not config["variants"]["rc_average"]),
            batch_size=config["variants"]["batch_size"],
            device=config["variants"]["device"],
            precision=config["variants"]["precision"],
        shell:
            """
            OMP_NUM_THREADS={threads} PYTHONPATH={params.src:q} python -m danq_pipeline background \
                --model {input.model:q} --fasta {input.fasta:q} --vcf {input.vcf:q} --out {output:q} \
                {params.rc} --batch-size {params.batch_size} --device {params.device} --precision {params.precision} \
                > {log:q} 2>&1
            """


if N_CHUNKS > 1:

    rule gather_variants:
        input:
            tsv=expand(
                f"results/variants/chunks/{{vcf}}/{{k}}-of-{N_CHUNKS}.tsv",
                k=range(1, N_CHUNKS + 1),
                allow_missing=True,
            ),
            h5=expand(
                f"results/variants/chunks/{{vcf}}/{{k}}-of-{N_CHUNKS}.h5",
                k=range(1, N_CHUNKS + 1),
                allow_missing=True,
            ),
            vcf=expand(
                f"results/variants/chunks/{{vcf}}/{{k}}-of-{N_CHUNKS}.vcf.gz",
                k=range(1, N_CHUNKS + 1),
                allow_missing=True,
            ),
        output:
            tsv="results/variants/{vcf}.tsv",
            h5="results/variants/{vcf}.h5",
            vcf="results/variants/{vcf}.vcf.gz",
            tbi="results/variants/{vcf}.vcf.gz.tbi",
        log:
            "logs/variants/{vcf}.gather.log",
        conda:
            "../envs/danq.yaml"
        threads: 1
        resources:
            mem_mb=4000,
        params:
            src=SRC,
            inputs=lambda wc, input: [p[: -len(".tsv")] for p in input.tsv],
            prefix=lambda wc, output: output.tsv[: -len(".tsv")],
        shell:
            """
            PYTHONPATH={params.src:q} python -m danq_pipeline gather-variants \
                --inputs {params.inputs:q} --out-prefix {params.prefix:q} \
                > {log:q} 2>&1
            """
