"""Model references: a hub id, or `embedded:NAME` for a model built locally."""

from pathlib import Path

from workflow.paths import embedded_model_dir, prefetch_marker

EMBEDDED_PREFIX = "embedded:"

# Locally built models. An entry with a parent is that parent lightly trained
# on a task's answer format: the embedded stand-in for an official instruct model.
EMBEDDED_MODELS = {
    "tiny-base": {},
    "tiny-instruct": {"parent": "tiny-base", "task": "arith", "examples": 400, "epochs": 1},
}


def is_embedded(ref: str) -> bool:
    return ref.startswith(EMBEDDED_PREFIX)


def embedded_name(ref: str) -> str:
    name = ref[len(EMBEDDED_PREFIX) :]
    if name not in EMBEDDED_MODELS:
        raise ValueError(f"unknown embedded model {ref!r}; known: {', '.join(EMBEDDED_MODELS)}")
    return name


def model_location(results: str, ref: str) -> str:
    """What a job passes to from_pretrained: a local folder or a hub id (read from the cache)."""
    if is_embedded(ref):
        return str(embedded_model_dir(results, embedded_name(ref)).resolve())
    return ref


def model_ready_file(results: str, ref: str) -> Path:
    """The path whose existence says the model is available to jobs."""
    if is_embedded(ref):
        return embedded_model_dir(results, embedded_name(ref))
    return prefetch_marker(results, ref)


def model_of(config: dict, model: str, kind: str) -> tuple[str, bool]:
    """(what from_pretrained gets, whether it is a local folder) for a base or instruct model."""
    ref = config["models"][model][kind]
    return model_location(config["results"], ref), is_embedded(ref)
