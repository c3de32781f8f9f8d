rule evaluate:
    input:
        run=cell_path("run.json"),
        image=container_image("eval"),
        prefetched=ancient(prefetch_report()),
    output:
        metrics=cell_path("metrics.json"),
        logs=directory(cell_path("eval")),
    log:
        cell_path("evaluate.log"),
    conda:
        "../envs/pipeline.yaml"
    resources:
        **evaluate_resources(config),
    script:
        "../scripts/evaluate.py"


# Base models zero-shot and official instruct models, through the same code.
rule evaluate_baseline:
    input:
        model=lambda wc: model_ready(wc.model, wc.kind),
        image=container_image("eval"),
        prefetched=ancient(prefetch_report()),
    output:
        metrics=baseline_path("metrics.json"),
        logs=directory(baseline_path("eval")),
    log:
        baseline_path("evaluate.log"),
    conda:
        "../envs/pipeline.yaml"
    resources:
        **evaluate_resources(config),
    script:
        "../scripts/evaluate.py"
