"""`verbalrl train-generator`: defaults from SFTConfig, bad input exits 2."""

from __future__ import annotations

import pytest
from typer.main import get_command

from verbalrl.cli import app
from verbalrl.training import GENERATOR_EPOCHS, SFTConfig

from .conftest import invoke


def test_train_generator_defaults_come_from_sft_config():
    params = {p.name: p.default for p in get_command(app).commands["train-generator"].params}
    fields = SFTConfig.model_fields
    for flag, field in [
        ("base_model", "base_model"),
        ("method", "method"),
        ("lr", "learning_rate"),
        ("batch_size", "batch_size"),
        ("lora_r", "lora_r"),
        ("seed", "seed"),
    ]:
        assert params[flag] == fields[field].default, flag
    assert params["epochs"] == GENERATOR_EPOCHS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "x"], "give --pool"),
        (["--out", "x", "--pool", "missing.jsonl"], "missing.jsonl"),
        (["--out", "x", "--task", "no-such-task"], "no-such-task"),
        (["--out", "x", "--task", "arithmetic", "--method", "qlora"], "method"),
    ],
)
def test_bad_input_exits_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, out = invoke("train-generator", *args)
    assert code == 2, out
    assert message in out and "Traceback" not in out
