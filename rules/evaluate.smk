rule evaluate:
    input:
        job=cell_path("job"),
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
    params:
        model=lambda wc, input: f"{input.job}/final_model",
        local_model=True,
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
    params:
        model=lambda wc: model_location(RESULTS, model_ref(wc.model, wc.kind)),
        local_model=lambda wc: model_ref(wc.model, wc.kind).startswith("embedded:"),
    script:
        "../scripts/evaluate.py"
