# DeepSEA bundle import: replaces `prepare` when the config has a `deepsea:` section
# (config/deepsea.yaml). One job per split, so test.mat and valid.mat import while the
# much larger train.mat streams.


rule import_deepsea:
    input:
        mat=lambda wc: config["deepsea"][wc.split],
    output:
        windows=f"{WINDOWS}/{{split}}.h5",
    log:
        "logs/import_deepsea/{split}.log",
    benchmark:
        "benchmarks/import_deepsea/{split}.tsv"
    wildcard_constraints:
        split="train|valid|test",
    conda:
        "../envs/danq.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        src=SRC,
        out_dir=lambda wc, output: os.path.dirname(output.windows),
        chunk=config["deepsea"].get("chunk_windows", 10000),
        max_train=lambda wc: (
            opt("--max-train-windows", config["deepsea"].get("max_train_windows"))
            if wc.split == "train"
            else ""
        ),
    shell:
        """
        PYTHONPATH={params.src:q} python -m danq_pipeline import-deepsea \
            --{wildcards.split} {input.mat:q} --out-dir {params.out_dir:q} \
            --chunk-windows {params.chunk} {params.max_train} --quiet \
            > {log:q} 2>&1
        """
