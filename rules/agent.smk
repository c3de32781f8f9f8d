rule run_agent:
    input:
        base_model=lambda wc: model_ready(wc.model, "base"),
        image=container_image("agent"),
        prefetched=ancient(prefetch_report()),
    output:
        job=directory(cell_path("job")),
        run=cell_path("run.json"),
        trace=cell_path("trace.jsonl"),
        handout=cell_path("handout.json"),
        monitor=cell_path("monitor.jsonl"),
    log:
        cell_path("agent.log"),
    conda:
        "../envs/pipeline.yaml"
    resources:
        **agent_resources(config),
    params:
        base_model=lambda wc: model_location(RESULTS, model_ref(wc.model, "base")),
    script:
        "../scripts/run_agent.py"
