from workflow.environment.containers import IMAGES, image_inputs


localrules:
    build_container,


# An image is rebuilt when its definition or any file it copies in (the pins,
# the agent CLIs' package files) changes, and not otherwise.
rule build_container:
    input:
        lambda wc: image_inputs(wc.image),
    output:
        image=f"{config['container']['dir']}/{{image}}.sif",
    log:
        f"{RESULTS}/logs/build_container/{{image}}.log",
    wildcard_constraints:
        image="|".join(IMAGES),
    conda:
        "../envs/pipeline.yaml"
    params:
        definition=lambda wc: f"envs/{wc.image}.def",
    script:
        "../scripts/build_container.py"
