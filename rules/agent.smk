rule run_agent:
    input:
        base_model=lambda wc: model_ready(wc.model, "base"),
        image=container_image("agent"),
        prefetched=ancient(prefetch_report()),
        agent_cache=ancient(agent_cache_marker()),
        # Pipeline-made files the handed-out task reads (Arena-Hard's baseline answers).
        benchmark=lambda wc: [ancient(f) for f in benchmark_inputs(wc.benchmark)],
    # Only the record is declared: Snakemake deletes a failed job's outputs,
    # and job/ (the agent's work) must survive any failure. The job writes
    # job/, trace.jsonl, handout.json, monitor.jsonl and agent_state.json
    # beside run.json; an interrupted run is resumed or moved to attempts/
    # by the next job (workflow/agent/attempts.py), never deleted.
    output:
        # Written last, atomically: its presence means the run is complete.
        run=cell_path("run.json"),
    log:
        cell_path("agent.log"),
    conda:
        "../envs/pipeline.yaml"
    resources:
        **agent_resources(config),
        slurm_extra=job_secrets("run_agent"),
    script:
        "../scripts/run_agent.py"
