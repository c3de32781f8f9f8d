"""reference-sft's decisions: which settings, how many rows per forward pass, which checkpoint."""

import types

import pytest

from tests.reference_sft.conftest import recipe_module

train = recipe_module("train")
speed = recipe_module("recipe_speed")

H100, H200 = 81559 * 2**20, 143771 * 2**20  # bytes, as torch reports them
SHAPES = {  # parameters, layers, hidden, intermediate (the models' config.json)
    "qwen3-1.7b": (1.72e9, 28, 2048, 6144),
    "qwen3-4b": (4.02e9, 36, 2560, 9728),
    "gemma3-4b": (3.88e9, 34, 2560, 10240),
}


def text_config(layers, hidden, intermediate):
    return types.SimpleNamespace(num_hidden_layers=layers, hidden_size=hidden, intermediate_size=intermediate)


@pytest.mark.parametrize(
    "shape, gpu, expected",
    [
        # Measured on the H200 with these splits: 76.8, 99.9 and 92.8 GiB peak; 47.6 and 66.3 GiB with the H100's.
        ("qwen3-1.7b", H200, (16, 1)),
        ("qwen3-4b", H200, (8, 2)),
        ("gemma3-4b", H200, (8, 2)),
        ("qwen3-1.7b", H100, (8, 2)),
        ("qwen3-4b", H100, (4, 4)),
        ("gemma3-4b", H100, (4, 4)),
    ],
)
def test_every_gpu_trains_16_rows_per_step_in_forward_passes_that_fit(shape, gpu, expected):
    params, *dims = SHAPES[shape]
    micro, accumulation = speed.rows_per_step(params, text_config(*dims), 2048, gpu)
    assert (micro, accumulation) == expected and micro * accumulation == 16


def test_a_gpu_too_small_for_one_row_still_gets_one():
    params, *dims = SHAPES["qwen3-4b"]
    assert speed.rows_per_step(params, text_config(*dims), 2048, 24 * 2**30) == (1, 16)


def args_for(*extra):
    return train.parse_args(["--base-model", "m", *extra])


def test_presets_follow_model_size_and_the_command_line_overrides_them():
    big = train.settings_for(args_for(), 1.7e9, text_config(28, 2048, 6144), H100)
    assert (big["preset"], big["lr"], big["max_length"], big["packing"]) == ("full", 1e-5, 2048, True)
    assert (big["batch_size"], big["accumulation"]) == (8, 2)
    small = train.settings_for(args_for(), 6e5, text_config(4, 128, 256), None)
    assert (small["preset"], small["lr"], small["batch_size"], small["packing"]) == ("tiny", 3e-3, 32, False)
    lora = train.settings_for(args_for("--lora"), 1.7e9, text_config(28, 2048, 6144), H100)
    assert lora["lr"] == 1e-4
    forced = train.settings_for(args_for("--lr", "2e-5", "--batch-size", "4", "--epochs", "1"), 1.7e9, None, H100)
    assert (forced["lr"], forced["batch_size"], forced["accumulation"], forced["epochs"]) == (2e-5, 4, 1, 1.0)


def test_time_kept_for_choosing_and_saving():
    s = {"checkpoints": 3, "eval_seconds": 300.0}
    assert train.reserve_seconds(args_for(), s, dev_eval=True, cuda=True) == 120 + 900
    assert train.reserve_seconds(args_for(), s, dev_eval=False, cuda=True) == 120
    assert train.reserve_seconds(args_for("--reserve-seconds", "7"), s, dev_eval=True, cuda=True) == 7


def test_the_best_dev_score_wins_and_the_held_out_loss_breaks_ties_or_decides_alone():
    a = {"step": 10, "eval_loss": 1.0, "score": 0.5}
    b = {"step": 20, "eval_loss": 0.8, "score": 0.5}
    c = {"step": 30, "eval_loss": 0.7, "score": 0.4}
    assert train.choose([a, b, c])["step"] == 20
    unscored = {"step": 40, "eval_loss": 0.1}  # time ran out before it was scored
    assert train.choose([a, b, c, unscored])["step"] == 20
    assert train.choose([dict(x, score=None) for x in (a, b, c)])["step"] == 30
    assert train.choose([{"step": 5, "eval_loss": None}, {"step": 9, "eval_loss": None}])["step"] == 9


def test_held_out_examples_are_a_seeded_disjoint_slice():
    data = {"input_ids": [[i] for i in range(500)], "completion_mask": [[1] for _ in range(500)]}
    kept, dev = train.split_dev(data, seed=1)
    assert len(dev["input_ids"]) == 10 and len(kept["input_ids"]) == 490
    assert not {x[0] for x in dev["input_ids"]} & {x[0] for x in kept["input_ids"]}
    assert train.split_dev(data, seed=1)[1] == dev
    assert train.split_dev({"input_ids": [[1]] * 3, "completion_mask": [[1]] * 3}, seed=1)[1] is None
