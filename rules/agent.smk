rule run_agent:
    input:
        base_model=lambda wc: model_ready(wc.model, "base"),
        image=container_image("agent"),
        prefetched=ancient(prefetch_report()),
        agent_cache=ancient(agent_cache_marker()),
    output:
        job=directory(cell_path("job")),
        # Written last, atomically: its presence means the run is complete. The
        # cell's trace.jsonl, handout.json and monitor.jsonl sit beside it (few
        # declared files keep planning of large matrices fast).
        run=cell_path("run.json"),
    log:
        cell_path("agent.log"),
    conda:
        "../envs/pipeline.yaml"
    resources:
        **agent_resources(config),
    script:
        "../scripts/run_agent.py"
