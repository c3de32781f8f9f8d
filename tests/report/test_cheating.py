"""Cheating attempts on the leaderboard: per agent, the share of judged cells flagged, by kind."""

import csv

from tests.report.synthetic import Tree, make_config
from tests.report.test_scoring import BASE, INSTRUCT
from workflow.paths import JUDGEMENT
from workflow.records import read_json, write_json
from workflow.report.cheating import add_cheating_columns
from workflow.report.scoring import leaderboard
from workflow.report.tables import markdown, write_all


def flag(tree: Tree, agent, model, bench, *kinds):
    path = tree.folder(agent, model, bench) / JUDGEMENT
    record = read_json(path)
    record["flagged"] = True
    record["reasons"] = [f"{k}: planted" for k in kinds]
    record["verdicts"] = {k: ("flagged" if k in kinds else "clean") for k in
                          ("contamination", "disallowed_model", "api_use", "evaluation_files")}  # fmt: skip
    write_json(path, record)


def test_each_agent_shows_its_flagged_share_by_kind(tmp_path):
    config = make_config({"honest": {}, "sly": {}, "late": {}})
    tree = Tree(tmp_path, config)
    tree.baselines(BASE, INSTRUCT)
    for agent in ("honest", "sly", "late"):
        for model in ("m1", "m2"):
            for bench in ("b1", "b2"):
                if agent == "late" and (model, bench) == ("m2", "b2"):
                    continue  # not run (nor judged) yet
                tree.cell(agent, model, bench, value=0.5)
    flag(tree, "sly", "m1", "b1", "contamination", "api_use")
    flag(tree, "sly", "m2", "b1", "contamination")
    flag(tree, "late", "m1", "b2", "disallowed_model")
    board = leaderboard(config, tree.results)
    add_cheating_columns(board, config, tree.results)
    rows = {r["agent"]: r for r in board.rows}
    assert rows["sly"]["flagged_contamination"] == 0.5 and rows["sly"]["flagged_api_use"] == 0.25
    assert rows["honest"]["flagged_contamination"] == 0.0 and rows["late"]["cells_judged"] == 3
    assert abs(rows["late"]["flagged_disallowed_model"] - 1 / 3) < 1e-9
    text = markdown(board)
    assert "flagged (by kind)" in text
    line = next(x for x in text.splitlines() if "| sly |" in x)
    assert "data 2/4, API 1/4" in line
    assert "none/4" in next(x for x in text.splitlines() if "| honest |" in x)
    outputs = {k: tmp_path / f"out.{k}" for k in ("csv", "md", "html", "benchmarks", "cells")}
    write_all(board, outputs, {})
    written = {r["agent"]: r for r in csv.DictReader(open(outputs["csv"]))}
    assert written["sly"]["flagged_contamination"] == "0.5" and written["late"]["cells_judged"] == "3"
