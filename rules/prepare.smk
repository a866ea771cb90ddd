rule prepare:
    input:
        fasta=config["genome"]["fasta"],
        sheet=config["targets"],
        peaks=peak_files(),
        blacklist=config["prepare"]["blacklist"] or [],
    output:
        train=f"{WINDOWS}/train.h5",
        valid=f"{WINDOWS}/valid.h5",
        test=f"{WINDOWS}/test.h5",
        summary=f"{WINDOWS}/targets_summary.tsv",
        stats=f"{WINDOWS}/prepare_stats.tsv",
    log:
        "logs/prepare.log",
    benchmark:
        "benchmarks/prepare.tsv"
    conda:
        "../envs/prepare.yaml"
    threads: 1
    resources:
        mem_mb=8000,
    params:
        src=SRC,
        out_dir=lambda wc, output: os.path.dirname(output.train),
        name=config["genome"]["name"],
        blacklist=opt("--blacklist", config["prepare"]["blacklist"]),
        contigs=opt("--contigs", config["prepare"]["contigs"]),
        valid=opt("--valid", config["prepare"]["valid"]),
        test=opt("--test", config["prepare"]["test"]),
        anchors=opt("--anchor-classes", config["prepare"]["anchor_classes"]),
        window=config["prepare"]["window"],
        bin=config["prepare"]["bin"],
        min_overlap=config["prepare"]["min_overlap"],
        max_n=config["prepare"]["max_n_fraction"],
        negatives=config["prepare"]["negative_ratio"],
        seed=config["prepare"]["seed"],
    shell:
        """
        PYTHONPATH={params.src:q} python -m danq_pipeline prepare \
            --fasta {input.fasta:q} --targets {input.sheet:q} --out-dir {params.out_dir:q} \
            --genome-name {params.name:q} {params.blacklist} {params.contigs} \
            {params.valid} {params.test} {params.anchors} \
            --window {params.window} --bin {params.bin} --min-overlap {params.min_overlap} \
            --max-n-fraction {params.max_n} --negative-ratio {params.negatives} --seed {params.seed} \
            > {log:q} 2>&1
        """
