"""The benchmark matrix: agents x base models x benchmarks x seeds."""

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


def enabled_agents(config: dict) -> list[str]:
    return [name for name, a in config["agents"].items() if a.get("enabled", True)]


def _selected(items, agent: dict, kind: str) -> list[str]:
    include = agent.get("include", {}).get(kind)
    exclude = set(agent.get("exclude", {}).get(kind, []))
    return [i for i in items if (include is None or i in include) and i not in exclude]


def agent_cells(config: dict, name: str) -> list[Cell]:
    agent = config["agents"][name]
    seeds = agent.get("seeds") or config.get("seeds", [1])
    return [
        Cell(name, model, bench, seed)
        for model in _selected(config["models"], agent, "models")
        for bench in _selected(config["benchmarks"], agent, "benchmarks")
        for seed in seeds
    ]


def cells(config: dict) -> list[Cell]:
    """Every cell of the enabled agents, in a stable order."""
    return [c for name in enabled_agents(config) for c in agent_cells(config, name)]


def baseline_pairs(config: dict) -> list[tuple[str, str, str]]:
    """(kind, model, benchmark) for the base zero-shot and instruct reference rows."""
    pairs = []
    for model, refs in config["models"].items():
        for kind in ("base", "instruct"):
            if refs.get(kind):
                pairs += [(kind, model, bench) for bench in config["benchmarks"]]
    return pairs
