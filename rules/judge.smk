rule judge:
    input:
        job=cell_path("job"),
        run=cell_path("run.json"),
        handout=cell_path("handout.json"),
    output:
        judgement=cell_path("judgement.json"),
    log:
        cell_path("judge.log"),
    resources:
        **cpu_resources(config),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/judge.py"
