from workflow.report.partial import write_leaderboard_from_what_exists


localrules:
    aggregate,


onsuccess:
    remove_key_files(WORKDIR)


# A cell that keeps failing never blocks the leaderboard: after a run with
# failures it is written from the cells that are done, the others marked
# with their reason (workflow/report/partial.py).
onerror:
    remove_key_files(WORKDIR)
    write_leaderboard_from_what_exists(
        config, rules.aggregate.output, rules.aggregate.log[0]
    )


# Every output is part of `snakemake --report` (captions under report/).
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
        csv=report(
            f"{RESULTS}/leaderboard.csv",
            caption="../report/leaderboard.rst",
            category="Leaderboard",
            labels={"table": "leaderboard (csv)"},
        ),
        md=f"{RESULTS}/leaderboard.md",
        html=report(
            f"{RESULTS}/leaderboard.html",
            caption="../report/leaderboard_html.rst",
            category="Leaderboard",
            labels={"table": "leaderboard (page)"},
        ),
        benchmarks=report(
            f"{RESULTS}/benchmarks.csv",
            caption="../report/benchmarks.rst",
            category="Tables",
            labels={"table": "per benchmark"},
        ),
        cells=report(
            f"{RESULTS}/cells.csv",
            caption="../report/cells.rst",
            category="Tables",
            labels={"table": "cells"},
        ),
        ranking=report(
            f"{RESULTS}/plots/ranking.png",
            caption="../report/ranking.rst",
            category="Plots",
            labels={"plot": "ranking"},
        ),
        time_vs_score=report(
            f"{RESULTS}/plots/time_vs_score.png",
            caption="../report/time_vs_score.rst",
            category="Plots",
            labels={"plot": "time vs score"},
        ),
        heatmap=report(
            f"{RESULTS}/plots/heatmap.png",
            caption="../report/heatmap.rst",
            category="Plots",
            labels={"plot": "per-benchmark heatmap"},
        ),
        budget_vs_score=report(
            f"{RESULTS}/plots/budget_vs_score.png",
            caption="../report/budget_vs_score.rst",
            category="Plots",
            labels={"plot": "score against budget and time used"},
        ),
        # One readable page per cell that ran (traces/<agent>/<model>/<benchmark>/
        # seed<N>/trace.html), each an entry of the report; the leaderboard links them.
        traces=report(
            directory(f"{RESULTS}/traces"),
            patterns=["{agent}/{model}/{benchmark}/seed{seed}/trace.html"],
            caption="../report/trace.rst",
            category="Traces",
            subcategory="{agent}",
            labels={
                "model": "{model}",
                "benchmark": "{benchmark}",
                "seed": "{seed}",
            },
        ),
    log:
        f"{RESULTS}/logs/aggregate.log",
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/aggregate.py"
