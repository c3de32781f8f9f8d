"""How vLLM serves a model: its family's chat template and tool-call parser.

BFCL scores the tool calls vLLM parses out of the model's text, so the server
needs the parser matching the template's format. The table is data
(tasks/templates/serving.json), read here and by the handed-out evaluate.py,
so the pipeline and the agents serve a model the same way.
"""

import json
from pathlib import Path

from workflow.tasks import TEMPLATES


def serving_table(templates_dir: Path = TEMPLATES) -> dict:
    return json.loads((Path(templates_dir) / "serving.json").read_text())


def model_type(model_dir: str | Path) -> str:
    """The `model_type` of a checkpoint folder (its config.json)."""
    cfg = Path(model_dir) / "config.json"
    if not cfg.exists():
        raise FileNotFoundError(f"{cfg} not found: not a model folder")
    return json.loads(cfg.read_text()).get("model_type", "")


def tool_call_parser(family: str, templates_dir: Path = TEMPLATES) -> str | None:
    """The vLLM `--tool-call-parser` name for a model_type, or None when we ship none."""
    return serving_table(templates_dir)["tool_call_parsers"].get(family)


def chat_template(family: str, templates_dir: Path = TEMPLATES) -> Path | None:
    """The family's template file, if one is shipped."""
    name = serving_table(templates_dir)["template_aliases"].get(family, family)
    path = Path(templates_dir) / f"{name}.jinja"
    return path if path.exists() else None


def model_server_args(model_dir: Path, templates_dir: Path = TEMPLATES) -> dict:
    """Settings that follow from the model: its generation_config, template and parser."""
    family = model_type(model_dir)
    args: dict = {"generation_config": "auto"}
    template = chat_template(family, templates_dir)
    if template:
        args["chat_template"] = str(template)
    parser = tool_call_parser(family, templates_dir)
    if parser:
        args |= {"enable_auto_tool_choice": True, "tool_call_parser": parser}
    return args
