# Attributions and the motifs discovered from them (optional; config
# `interpret.attribution_targets`, default [] = not run): per target, expected-gradient maps of the
# windows positive for it in every split, then TF-MoDISco on the pooled maps, matched to JASPAR.


rule attribute:
    input:
        model=MODEL,
        data=f"{WINDOWS}/{{split}}.h5",
    output:
        "results/attributions/{target}.{split}.h5",
    log:
        "logs/attribute/{target}.{split}.log",
    benchmark:
        "benchmarks/attribute/{target}.{split}.tsv"
    conda:
        "../envs/danq.yaml"
    threads: all_cores()
    resources:
        mem_mb=4000,
    params:
        src=SRC,
        shuffles=config["interpret"]["attribution_shuffles"],
        steps=config["interpret"]["attribution_steps"],
        device=config["interpret"]["device"],
    shell:
        """
        OMP_NUM_THREADS={threads} PYTHONPATH={params.src:q} python -m danq_pipeline attribute \
            --model {input.model:q} --data {input.data:q} --targets {wildcards.target:q} \
            --positives-of {wildcards.target:q} --shuffles {params.shuffles} --steps {params.steps} \
            --device {params.device} --out {output:q} \
            > {log:q} 2>&1
        """


rule modisco:
    input:
        expand(
            "results/attributions/{{target}}.{split}.h5",
            split=("train", "valid", "test"),
        ),
    output:
        table="results/modisco/{target}/patterns.tsv",
        meme="results/modisco/{target}/patterns.meme",
    log:
        "logs/modisco/{target}.log",
    benchmark:
        "benchmarks/modisco/{target}.tsv"
    conda:
        "../envs/danq.yaml"
    threads: all_cores()
    resources:
        mem_mb=8000,
    params:
        src=SRC,
        out_dir=lambda wc, output: os.path.dirname(output.table),
    shell:
        """
        NUMBA_NUM_THREADS={threads} PYTHONPATH={params.src:q} python -m danq_pipeline modisco \
            --attributions {input:q} --out-dir {params.out_dir:q} \
            > {log:q} 2>&1
        """
