# The judge reads the agent's work on a CPU node; it never holds a GPU, and
# `--forcerun judge` reruns it for any cell without rerunning the agent.
rule judge:
    input:
        run=cell_path("run.json"),
        instruct_model=lambda wc: (
            model_ready(wc.model, "instruct")
            if model_ref(wc.model, "instruct")
            else []
        ),
    output:
        judgement=cell_path("judgement.json"),
    log:
        cell_path("judge.log"),
    conda:
        "../envs/pipeline.yaml"
    resources:
        **cpu_resources(config),
        slurm_extra=job_secrets("judge"),
    script:
        "../scripts/judge.py"
