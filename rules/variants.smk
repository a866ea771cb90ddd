# score-variants: VCF -> results/variants/{vcf}.{tsv,h5,vcf.gz}; see docs/formats.md "Variant scores".
# With variants.chunks = N > 1 each VCF is scattered into N contiguous record blocks scored as
# parallel jobs (a cluster executor spreads them), then gathered into the same three files.
N_CHUNKS = config["variants"]["chunks"]


if N_CHUNKS == 1:

    rule score_variants:
        input:
            model=MODEL,
            fasta=config["genome"]["fasta"] if has_genome() else [],
            vcf=lambda wc: config["variants"]["vcfs"][wc.vcf],
        output:
            tsv="results/variants/{vcf}.tsv",
            h5="results/variants/{vcf}.h5",
            vcf="results/variants/{vcf}.vcf.gz",
            tbi="results/variants/{vcf}.vcf.gz.tbi",
        log:
            "logs/variants/{vcf}.log",
        benchmark:
            "benchmarks/variants/{vcf}.tsv"
        conda:
            "../envs/danq.yaml"
        threads: 1
        params:
            src=SRC,
            prefix=lambda wc, output: output.tsv[: -len(".tsv")],
            rc=flag("--no-rc-average", not config["variants"]["rc_average"]),
            batch_size=config["variants"]["batch_size"],
            device=config["train"]["device"],
        shell:
            """
            OMP_NUM_THREADS={threads} PYTHONPATH={params.src:q} python -m danq_pipeline score-variants \
                --model {input.model:q} --fasta {input.fasta:q} --vcf {input.vcf:q} \
                --out-prefix {params.prefix:q} {params.rc} \
                --batch-size {params.batch_size} --device {params.device} \
                > {log:q} 2>&1
            """

else:

    rule score_variants_chunk:
        input:
            model=MODEL,
            fasta=config["genome"]["fasta"] if has_genome() else [],
            vcf=lambda wc: config["variants"]["vcfs"][wc.vcf],
        output:
            tsv=temp(f"results/variants/chunks/{{vcf}}/{{k}}-of-{N_CHUNKS}.tsv"),
            h5=temp(f"results/variants/chunks/{{vcf}}/{{k}}-of-{N_CHUNKS}.h5"),
            vcf=temp(f"results/variants/chunks/{{vcf}}/{{k}}-of-{N_CHUNKS}.vcf.gz"),
            tbi=temp(f"results/variants/chunks/{{vcf}}/{{k}}-of-{N_CHUNKS}.vcf.gz.tbi"),
        log:
            f"logs/variants/{{vcf}}.{{k}}-of-{N_CHUNKS}.log",
        benchmark:
            f"benchmarks/variants/{{vcf}}.{{k}}-of-{N_CHUNKS}.tsv"
        conda:
            "../envs/danq.yaml"
        threads: 1
        params:
            src=SRC,
            prefix=lambda wc, output: output.tsv[: -len(".tsv")],
            chunk=lambda wc: f"{wc.k}/{N_CHUNKS}",
            rc=flag("--no-rc-average", not config["variants"]["rc_average"]),
            batch_size=config["variants"]["batch_size"],
            device=config["train"]["device"],
        shell:
            """
            OMP_NUM_THREADS={threads} PYTHONPATH={params.src:q} python -m danq_pipeline score-variants \
                --model {input.model:q} --fasta {input.fasta:q} --vcf {input.vcf:q} \
                --out-prefix {params.prefix:q} --chunk {params.chunk} {params.rc} \
                --batch-size {params.batch_size} --device {params.device} \
                > {log:q} 2>&1
            """

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
