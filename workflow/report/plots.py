"""Leaderboard plots as PNG: ranking with seed error bars, time used against
score, a per-benchmark heatmap, and score against budget and time used (the
budget axis). matplotlib's Agg backend: no display needed.
"""

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 (the backend must be chosen first)

from workflow.report.scoring import Leaderboard  # noqa: E402

DPI = 110
REFERENCE_STYLE = {"base": ("tab:gray", "--"), "instruct": ("tab:green", ":")}


def _pct(value: float | None) -> float:
    return math.nan if value is None else 100 * value


def _scored(board: Leaderboard) -> list[dict]:
    return [r for r in board.rows if r["complete"]]


def _save(fig, path: Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _label(row: dict) -> str:
    return row["agent"] + (" (reprompted)" if row["mode"] != "autonomous" else "")


def ranking_plot(board: Leaderboard, path: Path) -> None:
    """Horizontal bars of complete agents' scores; error bars = std across seeds."""
    rows = sorted(_scored(board), key=lambda r: r["score"])
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.45 * max(len(rows), 2)))
    if not rows:
        _empty(ax, "no agent has a complete set of scored cells yet")
    else:
        ypos = range(len(rows))
        errors = [_pct(r["std"]) if r["std"] is not None else 0.0 for r in rows]
        colors = ["tab:blue" if r["mode"] == "autonomous" else "tab:orange" for r in rows]
        ax.barh(list(ypos), [_pct(r["score"]) for r in rows], xerr=errors, color=colors, capsize=4)
        ax.set_yticks(list(ypos), [_label(r) for r in rows])
        for ref in board.references:
            if ref["complete"]:
                color, style = REFERENCE_STYLE[ref["reference"]]
                ax.axvline(_pct(ref["score"]), color=color, linestyle=style, label=f"{ref['agent']}")
        if any(ref["complete"] for ref in board.references):
            ax.legend(loc="lower right", fontsize="small")
        ax.set_xlabel("weighted score (%)")
    left_out = len(board.rows) - len(rows)
    ax.set_title("Ranking" + (f" ({left_out} incomplete agent(s) not shown)" if left_out else ""))
    _save(fig, path)


def time_score_plot(board: Leaderboard, path: Path) -> None:
    """Mean agent hours per run against the weighted score."""
    rows = [r for r in _scored(board) if r["hours_mean"] is not None]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    if not rows:
        _empty(ax, "no agent has a complete set of scored cells yet")
    else:
        for row in rows:
            err = _pct(row["std"]) if row["std"] is not None else 0.0
            color = "tab:blue" if row["mode"] == "autonomous" else "tab:orange"
            ax.errorbar(row["hours_mean"], _pct(row["score"]), yerr=err, fmt="o", color=color, capsize=3)
            ax.annotate(_label(row), (row["hours_mean"], _pct(row["score"])), fontsize="small",
                        xytext=(4, 4), textcoords="offset points")  # fmt: skip
        ax.set_xlim(left=0)
        ax.set_xlabel("agent time used per run (hours, mean)")
        ax.set_ylabel("weighted score (%)")
    ax.set_title("Time used against score")
    _save(fig, path)


def heatmap_plot(board: Leaderboard, path: Path) -> None:
    """Per-benchmark averages (%) of every agent and reference row; blank = not all cells scored."""
    rows = board.rows + board.references
    names = [_label(r) if r["mode"] != "reference" else r["agent"] for r in rows]
    values = [[_pct(r.get(b)) for b in board.benchmarks] for r in rows]
    fig, ax = plt.subplots(figsize=(1.4 + 1.1 * len(board.benchmarks), 1.0 + 0.45 * max(len(rows), 2)))
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="lightgrey")
    image = ax.imshow(values, cmap=cmap, vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(board.benchmarks)), board.benchmarks, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), names)
    for i, line in enumerate(values):
        for j, value in enumerate(line):
            text = "n/a" if math.isnan(value) else f"{value:.1f}"
            ax.text(j, i, text, ha="center", va="center", fontsize="small",
                    color="white" if value < 50 else "black")  # fmt: skip
    fig.colorbar(image, ax=ax, label="score (%)")
    ax.set_title("Per-benchmark averages over base models")
    _save(fig, path)


def budget_plot(board: Leaderboard, path: Path) -> None:
    """Score against the budget given (left) and the time actually used (right), one line per
    configured agent across its budgets (`hours: [1, 3, 10]`); single-budget agents are points."""
    rows = [r for r in _scored(board) if r.get("budget_hours") is not None]
    fig, (by_budget, by_used) = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    if not rows:
        for ax in (by_budget, by_used):
            _empty(ax, "no agent has a complete set of scored cells yet")
    else:
        groups: dict[str, list[dict]] = {}
        for row in rows:
            groups.setdefault(row["agent_base"], []).append(row)
        for i, (agent, members) in enumerate(sorted(groups.items())):
            members.sort(key=lambda r: r["budget_hours"])
            color = f"C{i % 10}"
            scores = [_pct(r["score"]) for r in members]
            errors = [_pct(r["std"]) if r["std"] is not None else 0.0 for r in members]
            label = agent + (" (reprompted)" if members[0]["mode"] != "autonomous" else "")
            by_budget.errorbar([r["budget_hours"] for r in members], scores, yerr=errors, fmt="o-", color=color,
                               capsize=3, label=label)  # fmt: skip
            used = [r["hours_mean"] if r["hours_mean"] is not None else math.nan for r in members]
            by_used.errorbar(used, scores, yerr=errors, fmt="s--", color=color, capsize=3)
            for row, x, y in zip(members, used, scores, strict=True):
                by_used.annotate(f"{row['budget_hours']:g} h budget", (x, y), fontsize="x-small",
                                 xytext=(4, 4), textcoords="offset points")  # fmt: skip
        for ref in board.references:
            if ref["complete"]:
                color, style = REFERENCE_STYLE[ref["reference"]]
                for ax in (by_budget, by_used):
                    ax.axhline(_pct(ref["score"]), color=color, linestyle=style, linewidth=1)
        by_budget.set_xlabel("budget (hours)")
        by_used.set_xlabel("agent time used per run (hours, mean)")
        by_budget.set_ylabel("weighted score (%)")
        by_budget.set_xlim(left=0)
        by_used.set_xlim(left=0)
        by_budget.legend(loc="best", fontsize="small")
    by_budget.set_title("Score against budget")
    by_used.set_title("Score against time used")
    _save(fig, path)


PLOTS = {
    "ranking": ranking_plot,
    "time_vs_score": time_score_plot,
    "heatmap": heatmap_plot,
    "budget_vs_score": budget_plot,
}


def write_plots(board: Leaderboard, paths: dict[str, Path]) -> None:
    """Write each named plot (a key of PLOTS) to its path."""
    for name, path in paths.items():
        PLOTS[name](board, Path(path))
