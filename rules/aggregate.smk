localrules:
    aggregate,


rule aggregate:
    input:
        metrics=cell_metrics(),
        judgements=[cell_dir(RESULTS, c) / "judgement.json" for c in CELLS],
        baselines=[
            baseline_template(RESULTS, "metrics.json").format(
                kind=k, model=m, benchmark=b
            )
            for k, m, b in BASELINES
        ],
    output:
        csv=f"{RESULTS}/leaderboard.csv",
        md=f"{RESULTS}/leaderboard.md",
        cells=f"{RESULTS}/cells.csv",
    log:
        f"{RESULTS}/logs/aggregate.log",
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/aggregate.py"
