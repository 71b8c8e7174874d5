import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from inertia.cli import app
from inertia.studies import velocity


def test_velocity_dictionary_agrees_with_torch_sgd_and_differs_from_no_momentum():
    result = velocity.train_three_ways(dim=40, epochs=15, lr=0.05, momentum=0.9, batch_size=8, seed=3)
    assert result.agree, (result.max_loss_gap, result.max_weight_gap)
    plain, _, torch_sgd = (result.losses[w] for w in velocity.WAYS)
    assert np.abs(plain - torch_sgd).max() > 1e-3  # momentum changes the path


def test_same_initial_weights_for_every_way_and_global_state_untouched():
    torch.manual_seed(5)
    expected = torch.rand(1).item()
    torch.manual_seed(5)
    # One full batch per epoch: the first epoch's loss is the loss of the initial weights, before any update.
    result = velocity.train_three_ways(dim=10, epochs=2, lr=0.1, batch_size=10, seed=1)
    assert torch.rand(1).item() == expected
    first = {w: h[0] for w, h in result.losses.items()}
    assert len(set(first.values())) == 1, first


def test_momentum_must_be_positive():
    with pytest.raises(ValueError, match="momentum must be > 0"):
        velocity.train_three_ways(dim=4, epochs=1, momentum=0.0)


def test_velocity_cli(tmp_path):
    result = CliRunner().invoke(app, ["velocity", "--dim", "20", "--epochs", "3", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["agree"] is True and set(summary["final_loss"]) == set(velocity.WAYS)
    assert (tmp_path / "velocity_losses.png").is_file()


def test_scratch_cli_prints_the_seeds_log_lines():
    result = CliRunner().invoke(app, ["scratch", "--epochs", "201", "--points", "20"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("epoch: 0, acc: ") and "lr: 1.0" in lines[0]
    assert lines[1].startswith("epoch: 100, ") and lines[1].endswith("lr: 0.9099181073703367")
    assert lines[-1].startswith("final: acc: ")


@pytest.mark.parametrize(("args", "message"), [
    (["--form", "adam"], "Invalid form: 'adam'"),
    (["--momentum", "-1"], "Invalid momentum value: -1"),
    (["--dtype", "float16"], "dtype must be float32 or float64"),
])
def test_scratch_cli_errors(args, message):
    result = CliRunner().invoke(app, ["scratch", "--epochs", "1", *args])
    assert result.exit_code == 2 and message in result.output
