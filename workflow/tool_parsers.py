"""Which vLLM tool-call parser reads each model family's function calls.

BFCL scores the tool calls that vLLM parses out of the model's text, so the
server must be started with the parser matching the chat template's format.
Our templates (tasks/templates/) ask every family to answer with
`<tool_call>{"name": ..., "arguments": ...}</tool_call>`, which vLLM's `hermes`
parser reads. Keys are config.json `model_type` values.
"""

import importlib.util
import json
from pathlib import Path

EVALUATE_SCRIPT = Path(__file__).resolve().parent.parent / "tasks" / "evaluate.py"


def _handed_out_table() -> dict[str, str]:
    # The table lives in tasks/evaluate.py, which agents get without this
    # package; read it from there so there is one copy.
    spec = importlib.util.spec_from_file_location("ptb_evaluate_script", EVALUATE_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.TOOL_CALL_PARSERS)


TOOL_CALL_PARSERS = _handed_out_table()


def model_type(model_dir: str | Path) -> str:
    """The `model_type` of a checkpoint folder (its config.json)."""
    cfg = Path(model_dir) / "config.json"
    if not cfg.exists():
        raise FileNotFoundError(f"{cfg} not found: not a model folder")
    return json.loads(cfg.read_text()).get("model_type", "")


def tool_call_parser(family: str) -> str | None:
    """The vLLM `--tool-call-parser` name for a model_type, or None when we ship none."""
    return TOOL_CALL_PARSERS.get(family)
