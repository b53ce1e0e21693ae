import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import keras_dbal
from keras_dbal import cli


def run_cli(*args, cwd=None):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "keras_dbal", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=600,
    )


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == keras_dbal.__version__
    assert cli.main([]) == 0
    assert "run" in capsys.readouterr().out


def test_missing_data_file_is_one_clear_line(tmp_path, capsys):
    status = cli.main(["run", "--data", str(tmp_path / "absent.npz")])
    assert status == 2
    error = capsys.readouterr().err
    assert error.strip().count("\n") == 0
    assert "Data file not found" in error and "Traceback" not in error


def test_malformed_data_file(tmp_path, capsys):
    np.savez(tmp_path / "bad.npz", x_train=np.zeros((3, 4, 4)))
    assert cli.main(["run", "--data", str(tmp_path / "bad.npz")]) == 2
    assert "lacks the keys" in capsys.readouterr().err


def test_unknown_acquisition_is_an_error(capsys):
    assert cli.main(["run", "--acquisition", "nonsense"]) == 2
    assert "nonsense" in capsys.readouterr().err


@pytest.mark.slow
def test_run_writes_plot_csv_and_json(tmp_path):
    result = run_cli(
        "run", "--rounds", "1", "--epochs", "2", "--mc-samples", "3",
        "--seed", "0", "--pool-subset", "100", "--quiet",
        "--out", str(tmp_path / "out"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = tmp_path / "out"
    with open(out / "learning_curve.png", "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(out / "results.csv") as file:
        rows = list(csv.DictReader(file))
    # bald and random, each evaluated before and after one round.
    assert [(row["acquisition"], row["num_labelled"]) for row in rows] == [
        ("bald", "20"), ("bald", "30"), ("random", "20"), ("random", "30"),
    ]
    with open(out / "results.json") as file:
        results = json.load(file)
    assert results["dataset"] == "digits"
    assert len(results["runs"]) == 2
