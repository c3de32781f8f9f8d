localrules:
    prefetch_model,


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


# Hub downloads run where Snakemake runs (login nodes have the internet).
rule prefetch_model:
    output:
        marker=f"{RESULTS}/prefetch/{{org}}--{{name}}.done",
    log:
        f"{RESULTS}/logs/prefetch/{{org}}--{{name}}.log",
    params:
        hf_home=config["hf_home"],
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/prefetch_model.py"
