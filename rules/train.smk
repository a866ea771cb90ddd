rule train:
    input:
        train=f"{WINDOWS}/train.h5",
        valid=f"{WINDOWS}/valid.h5",
    output:
        model=MODEL,
        history=HISTORY,
    log:
        "logs/train.log",
    benchmark:
        "benchmarks/train.tsv"
    conda:
        "../envs/danq.yaml"
    threads: config["train"]["threads"] or all_cores()
    resources:
        mem_mb=16000,
        gpu=1,
    params:
        src=SRC,
        preset=config["train"]["preset"],
        recipe=config["train"]["recipe"],
        epochs=opt("--epochs", config["train"]["epochs"]),
        batch_size=config["train"]["batch_size"],
        lr=config["train"]["lr"],
        patience=opt("--patience", config["train"]["patience"]),
        deterministic=flag("--deterministic", config["train"]["deterministic"]),
        rc=flag("--no-rc-augment", not config["train"]["rc_augment"]),
        device=config["train"]["device"],
        precision=config["train"]["precision"],
        seed=config["train"]["seed"],
    shell:
        """
        PYTHONPATH={params.src:q} python -m danq_pipeline train \
            --train {input.train:q} --valid {input.valid:q} \
            --out {output.model:q} --history {output.history:q} \
            --preset {params.preset} --recipe {params.recipe} {params.epochs} {params.patience} \
            --batch-size {params.batch_size} --lr {params.lr} {params.deterministic} {params.rc} \
            --device {params.device} --precision {params.precision} --seed {params.seed} --threads {threads} \
            > {log:q} 2>&1
        """
