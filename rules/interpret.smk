# Interpretation (optional; config `interpret:`): learned first-layer filters as motifs matched
# to JASPAR CORE vertebrates (offline), and in-silico saturation mutagenesis of chosen regions.
# Both run on CPU in the demo in well under a minute (small model, <= 20000 test windows).


rule motifs:
    input:
        model=MODEL,
        data=f"{WINDOWS}/test.h5",
    output:
        matches="results/motifs/motif_matches.tsv",
        all_matches="results/motifs/motif_matches_all.tsv",
        meme="results/motifs/filters.meme",
        overview="results/motifs/logos.png",
    log:
        "logs/motifs.log",
    benchmark:
        "benchmarks/motifs.tsv"
    conda:
        "../envs/danq.yaml"
    threads: all_cores()
    resources:
        mem_mb=8000,
    params:
        src=SRC,
        out_dir=lambda wc, output: os.path.dirname(output.matches),
        max_windows=config["interpret"]["motif_max_windows"],
        device=config["interpret"]["device"],
        precision=config["interpret"]["precision"],
    shell:
        """
        OMP_NUM_THREADS={threads} PYTHONPATH={params.src:q} python -m danq_pipeline motifs \
            --model {input.model:q} --data {input.data:q} --out-dir {params.out_dir:q} \
            --max-windows {params.max_windows} --device {params.device} --precision {params.precision} \
            > {log:q} 2>&1
        """


rule ism:
    input:
        model=MODEL,
        fasta=config["genome"]["fasta"] if has_genome() else [],
    output:
        h5="results/ism/{region}.h5",
        tsv="results/ism/{region}.tsv",
        heatmap="results/ism/{region}.heatmap.png",
        logo="results/ism/{region}.logo.png",
    log:
        "logs/ism/{region}.log",
    benchmark:
        "benchmarks/ism/{region}.tsv"
    conda:
        "../envs/danq.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        src=SRC,
        region=lambda wc: {region_slug(r): r for r in ism_regions()}[wc.region],
        prefix=lambda wc, output: output.h5[: -len(".h5")],
        device=config["interpret"]["device"],
        precision=config["interpret"]["precision"],
    shell:
        """
        OMP_NUM_THREADS={threads} PYTHONPATH={params.src:q} python -m danq_pipeline ism \
            --model {input.model:q} --fasta {input.fasta:q} --region {params.region:q} \
            --out-prefix {params.prefix:q} --device {params.device} --precision {params.precision} \
            > {log:q} 2>&1
        """
