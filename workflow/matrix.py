"""The benchmark matrix: agents x base models x benchmarks x seeds.

Budget is an axis too: an agent that lists several budgets (`hours: [1, 3,
10]`) runs once per budget, each run named `NAME@<hours>h` (its own cells,
paths and leaderboard row). An agent with one budget keeps its own name, so
its paths and rows are the same as before budgets became an axis. `agent`
in a Cell is always such a run name; `agent_entry` gives its settings.
"""

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Cell:
    agent: str
    model: str
    benchmark: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.agent}/{self.model}/{self.benchmark}/seed{self.seed}"


BUDGET_MARK = "@"  # never in an agent's name (config/schema.yaml), so run names are unambiguous


def budget_run_name(agent: str, hours: float) -> str:
    return f"{agent}{BUDGET_MARK}{hours:g}h"


def agent_runs(config: dict) -> dict[str, dict]:
    """Every configured agent as it runs: run name -> its entry with one `hours` and `agent`
    (the configured name). An agent listing several budgets gives one run per budget."""
    runs = {}
    for name, agent in config["agents"].items():
        hours = agent.get("hours", config.get("hours"))
        if isinstance(hours, list) and len(hours) > 1:
            for h in hours:
                runs[budget_run_name(name, h)] = {**agent, "hours": h, "agent": name}
        else:
            runs[name] = {**agent, "hours": hours[0] if isinstance(hours, list) else hours, "agent": name}
    return runs


def agent_entry(config: dict, run: str) -> dict:
    """The settings of one run (a configured agent, or one budget of it)."""
    runs = agent_runs(config)
    if run not in runs:
        raise KeyError(f"no agent run {run!r}; known: {', '.join(runs)}")
    return runs[run]


def enabled_agents(config: dict) -> list[str]:
    """The runs of the enabled agents, in config order (budgets in their listed order)."""
    return [name for name, a in agent_runs(config).items() if a.get("enabled", True)]


def _selected(items, agent: dict, kind: str) -> list[str]:
    include = agent.get("include", {}).get(kind)
    exclude = set(agent.get("exclude", {}).get(kind, []))
    return [i for i in items if (include is None or i in include) and i not in exclude]


def agent_cells(config: dict, name: str) -> list[Cell]:
    return _cells_of(config, name, agent_entry(config, name))


def cells(config: dict) -> list[Cell]:
    """Every cell of the enabled agents, in a stable order."""
    runs = agent_runs(config)
    return [c for name, run in runs.items() if run.get("enabled", True) for c in _cells_of(config, name, run)]


def _cells_of(config: dict, name: str, agent: dict) -> list[Cell]:
    seeds = agent.get("seeds") or config.get("seeds", [1])
    return [
        Cell(name, model, bench, seed)
        for model in _selected(config["models"], agent, "models")
        for bench in _selected(config["benchmarks"], agent, "benchmarks")
        for seed in seeds
    ]


def baseline_pairs(config: dict) -> list[tuple[str, str, str]]:
    """(kind, model, benchmark) for the base zero-shot and instruct reference rows."""
    pairs = []
    for model, refs in config["models"].items():
        for kind in ("base", "instruct"):
            if refs.get(kind):
                pairs += [(kind, model, bench) for bench in config["benchmarks"]]
    return pairs
