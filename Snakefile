# PostTrainBench on Slurm. On a cluster: `snakemake --profile slurm`
# (config/config.yaml); with no config given: the embedded default.


if not config:

    configfile: "config/embedded.yaml"


include: "rules/common.smk"
include: "rules/containers.smk"
include: "rules/prefetch.smk"
include: "rules/agent.smk"
include: "rules/judge.smk"
include: "rules/evaluate.smk"
include: "rules/aggregate.smk"


rule all:
    default_target: True
    input:
        # Every cell's metrics are requested directly, so a deleted one is
        # recomputed even while the leaderboard exists.
        cell_metrics(),
        f"{RESULTS}/leaderboard.md",
