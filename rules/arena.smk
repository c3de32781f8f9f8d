# Arena-Hard's baseline answers: made once from the baseline model
# (tasks/arenahardwriting/meta.yaml), then read from the shared cache by every
# arena cell's agent (development runs) and evaluation (see
# workflow/evaluate/arena_baseline.py; ARENA_BASELINE_ANSWERS in common.smk).
if ARENA_BASELINE_ANSWERS:

    rule arena_baseline_answers:
        input:
            model=ancient(str(model_ready_file(RESULTS, baseline_model()))),
            image=container_image("eval"),
            prefetched=ancient(prefetch_report()),
        output:
            answers=ARENA_BASELINE_ANSWERS,
        log:
            f"{RESULTS}/logs/arena_baseline_answers.log",
        conda:
            "../envs/pipeline.yaml"
        resources:
            **evaluate_resources(config),
        params:
            log_dir=f"{RESULTS}/arena/baseline_answers",
        script:
            "../scripts/arena_baseline_answers.py"
