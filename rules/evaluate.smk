rule evaluate:
    # The prefetch is already an input of the agent's run; the Inspect logs and
    # attempt history go to eval/ beside metrics.json (few declared files keep
    # planning of large matrices fast).
    input:
        run=cell_path("run.json"),
        image=container_image("eval"),
        benchmark=lambda wc: benchmark_inputs(wc.benchmark),
    output:
        metrics=cell_path("metrics.json"),
    log:
        cell_path("evaluate.log"),
    conda:
        "../envs/pipeline.yaml"
    resources:
        **evaluate_resources(config),
        slurm_extra=job_secrets("evaluate"),
    script:
        "../scripts/evaluate.py"


# Base models zero-shot and official instruct models, through the same code: one
# job per model and kind, whose one vLLM server serves every benchmark in turn.
rule evaluate_baselines:
    input:
        model=lambda wc: model_ready(wc.model, wc.kind),
        image=container_image("eval"),
        prefetched=ancient(prefetch_report()),
        # Pipeline-made files the tasks read (Arena-Hard's baseline answers).
        pipeline_made=[f for b in config["benchmarks"] for f in benchmark_inputs(b)],
    output:
        metrics=expand(
            baseline_path("metrics.json"),
            benchmark=list(config["benchmarks"]),
            allow_missing=True,
        ),
    log:
        baseline_model_path("evaluate.log"),
    conda:
        "../envs/pipeline.yaml"
    resources:
        **baseline_resources(config),
        slurm_extra=job_secrets("evaluate_baselines"),
    script:
        "../scripts/evaluate_baselines.py"
