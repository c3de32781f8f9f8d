# PostTrainBench on Slurm. On a cluster: `snakemake --profile slurm`
# (config/config.yaml); with no config given: the embedded default.


if not config:

    configfile: "config/embedded.yaml"


# `snakemake --report report.html`: the leaderboard, tables and plots.
report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/containers.smk"
include: "rules/prefetch.smk"
include: "rules/arena.smk"
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
        # The offline check of the shared HF cache (nothing in the embedded default).
        prefetch_report(),
