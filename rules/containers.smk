localrules:
    build_container,


rule build_container:
    input:
        definition="envs/{image}.def",
    output:
        image=f"{config['container']['dir']}/{{image}}.sif",
    log:
        f"{RESULTS}/logs/build_container/{{image}}.log",
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/build_container.py"
