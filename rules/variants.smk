rule score_variants:
    input:
        model=MODEL,
        fasta=config["genome"]["fasta"] if has_genome() else [],
        vcf=lambda wc: config["variants"]["vcfs"][wc.vcf],
    output:
        tsv="results/variants/{vcf}.tsv",
        h5="results/variants/{vcf}.h5",
        vcf="results/variants/{vcf}.vcf.gz",
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
