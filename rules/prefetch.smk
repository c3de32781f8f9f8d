localrules:
    prefetch_model,
    prefetch_dataset,
    prefetch_files,
    verify_prefetch,
    agent_cache,


rule build_embedded_model:
    input:
        parent=lambda wc: embedded_parent_input(wc.name),
    output:
        model=directory(f"{RESULTS}/models/{{name}}"),
    log:
        f"{RESULTS}/logs/build_embedded_model/{{name}}.log",
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/build_embedded_model.py"


rule prefetch_model:
    output:
        marker=f"{RESULTS}/prefetch/{{org}}--{{name}}.done",
    log:
        f"{RESULTS}/logs/prefetch/{{org}}--{{name}}.log",
    # Hub ids never contain "--" (the hub refuses it), so the split is unique.
    wildcard_constraints:
        org=r"(?:(?!--)[^/])+",
        name=r"(?:(?!--)[^/])+",
    conda:
        "../envs/pipeline.yaml"
    params:
        hf_home=config["hf_home"],
        resources=PREFETCH_JSON,
    script:
        "../scripts/prefetch_model.py"


rule prefetch_dataset:
    output:
        marker=f"{RESULTS}/prefetch/datasets/{{slug}}.done",
    log:
        f"{RESULTS}/logs/prefetch/datasets/{{slug}}.log",
    wildcard_constraints:
        slug=r"[^/]+",
    conda:
        "../envs/pipeline.yaml"
    params:
        hf_home=config["hf_home"],
        resources=PREFETCH_JSON,
    script:
        "../scripts/prefetch_dataset.py"


# Data that is not on the hub (a task's `downloads:`), into $HF_HOME/inspect_evals.
rule prefetch_files:
    output:
        marker=f"{RESULTS}/prefetch/files/{{slug}}.done",
    log:
        f"{RESULTS}/logs/prefetch/files/{{slug}}.log",
    wildcard_constraints:
        slug=r"[^/]+",
    conda:
        "../envs/pipeline.yaml"
    params:
        hf_home=config["hf_home"],
        resources=PREFETCH_JSON,
        mirrors=config["prefetch"].get("mirrors", {}),
    script:
        "../scripts/prefetch_files.py"


rule verify_prefetch:
    input:
        models=model_markers(RESULTS, PREFETCH),
        datasets=dataset_markers(RESULTS, PREFETCH),
        downloads=download_markers(RESULTS, PREFETCH),
    output:
        report=f"{RESULTS}/prefetch/report.json",
    log:
        f"{RESULTS}/logs/prefetch/verify.log",
    conda:
        "../envs/pipeline.yaml"
    params:
        hf_home=config["hf_home"],
        resources=PREFETCH_JSON,
    script:
        "../scripts/verify_prefetch.py"


# The agents' cache: the shared cache without the official instruct models
# (workflow/environment/agent_cache.py); baselines and evaluation read the full one.
rule agent_cache:
    input:
        report=f"{RESULTS}/prefetch/report.json",
        # Files the pipeline makes for tasks (Arena-Hard's baseline answers) are in the agents' view too.
        pipeline_made=ARENA_BASELINE_ANSWERS or [],
    output:
        marker=f"{RESULTS}/prefetch/agent_cache.json",
    log:
        f"{RESULTS}/logs/prefetch/agent_cache.log",
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/build_agent_cache.py"
