# The judge reads the agent's work on a CPU node; it never holds a GPU, and
# `--forcerun judge` reruns it for any cell without rerunning the agent.
rule judge:
    input:
        job=cell_path("job"),
        run=cell_path("run.json"),
        trace=cell_path("trace.jsonl"),
        handout=cell_path("handout.json"),
        base_model=lambda wc: model_ready(wc.model, "base"),
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
    params:
        base_model=lambda wc: model_location(RESULTS, model_ref(wc.model, "base")),
        base_ref=lambda wc: model_ref(wc.model, "base"),
        instruct_ref=lambda wc: model_ref(wc.model, "instruct"),
    script:
        "../scripts/judge.py"
