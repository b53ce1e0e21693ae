import csv
import json
import os
import pathlib
import re
import subprocess
import sys
import types

import numpy as np
import pytest

import keras_dbal
from keras_dbal.experiments import runner
from keras_dbal.tools import cli

# File formats, commands and checks that do not depend on the Keras
# backend: CI runs this module under TensorFlow only.
pytestmark = pytest.mark.backend_independent


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


@pytest.mark.parametrize("option", ["--acquisition", "--deterministic",
                                    "--ensemble"])
def test_unknown_acquisition_is_refused_as_typed(option, capsys):
    # At parsing, naming the option typed and the choices.
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", option, "nonsense"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {option}: invalid choice: 'nonsense'" in error
    assert "'batchbald'" in error


@pytest.mark.slow
def test_run_writes_plot_csv_and_json(tmp_path):
    result = run_cli(
        "run", "--rounds", "1", "--epochs", "2", "--mc-samples", "3",
        "--seed", "0", "--pool-subset", "100",
        "--ensemble", "bald", "--ensemble-size", "2", "--metric", "auc",
        "--out", str(tmp_path / "out"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # Progress into a pipe: plain lines, the count as an integer, each of
    # the three runs' accuracy.
    assert re.search(
        r"^round 1/1  labelled 30  accuracy( [01]\.\d{3}){3}  \d+ s$",
        result.stdout, re.MULTILINE,
    ), result.stdout
    assert not any(code in result.stdout for code in "\r\b\x1b")
    out = tmp_path / "out"
    with open(out / "learning_curve.png", "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(out / "results.csv") as file:
        rows = list(csv.DictReader(file))
    # bald and random, then bald on an ensemble of two twins, each
    # evaluated before and after one round.
    assert [
        (row["acquisition"], row["model"], row["num_labelled"])
        for row in rows
    ] == [
        ("bald", "bayesian", "20"), ("bald", "bayesian", "30"),
        ("random", "bayesian", "20"), ("random", "bayesian", "30"),
        ("bald", "ensemble", "20"), ("bald", "ensemble", "30"),
    ]
    for row in rows:
        assert 0.0 <= float(row["balanced_accuracy"]) <= 1.0
        # Every class is in the test set: AUC is defined.
        assert 0.0 <= float(row["auc"]) <= 1.0
    with open(out / "results.json") as file:
        results = json.load(file)
    assert results["dataset"] == "digits"
    assert len(results["runs"]) == 3


@pytest.mark.parametrize(
    "module, expected",
    [("keras_dbal", "query"), ("benchmarks.engine", "--runs")],
)
def test_help_prints_no_tensorflow_log_lines(module, expected):
    env = {key: value for key, value in os.environ.items()
           if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        capture_output=True, text=True, env=env, timeout=600,
        cwd=pathlib.Path(__file__).parents[1],
    )
    assert result.returncode == 0 and expected in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(
    "args, match",
    [
        (["--rounds", "200"], r"need 2020 images, but the pool has 1437"),
        # Told in the options' names, as the user typed them.
        (["--pool-subset", "5"],
         r"--query-size=10 is more than --pool-subset=5"),
        (["--initial-per-class", "200"],
         r"fewer than --initial-per-class=200"),
    ],
)
def test_run_fails_before_any_compute(args, match, tmp_path, capsys,
                                      monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("trained before checking its arguments")

    monkeypatch.setattr(runner, "_build_run", never)
    assert cli.main(["run", "--out", str(tmp_path / "o"), *args]) == 2
    assert re.search(match, capsys.readouterr().err)


def test_run_refuses_an_unwritable_out_at_once(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert cli.main(["run", "--out", str(tmp_path / "file" / "o")]) == 2
    assert "Cannot write results into --out" in capsys.readouterr().err


def test_run_keeps_the_rounds_that_finished(tmp_path, monkeypatch, capsys):
    def first_round_then_interrupt(learners, pools, rounds, n, on_round,
                                   **kwargs):
        on_round([[{"num_labelled": 20, "accuracy": 0.5, "error": 0.5,
                    "error_without_dropout": 0.5, "balanced_accuracy": 0.5,
                    "auc": 0.6}] for _ in learners])
        raise KeyboardInterrupt

    taught = types.SimpleNamespace(pool_indices_=np.arange(20), num_fits_=1,
                                   history_=[])
    monkeypatch.setattr(runner, "_build_run", lambda *args: (taught, None))
    monkeypatch.setattr(runner, "simulate_together",
                        first_round_then_interrupt)
    out = tmp_path / "o"
    assert cli.main(["run", "--out", str(out), "--quiet"]) == 130
    with open(out / "results.json") as file:
        saved = json.load(file)
    # Every run (2 acquisitions x 2 seeds), each up to the round it reached.
    assert not saved["complete"] and len(saved["runs"]) == 4
    assert all(run["num_labelled"] == [20] for run in saved["runs"])
    with open(out / "learning_curve.png", "rb") as file:
        assert file.read(4) == b"\x89PNG"
    assert sorted(os.listdir(out)) == [
        ".lock", "experiment_state.json", "learning_curve.png",
        "results.csv", "results.json",
    ]


def test_run_defaults_are_the_experiment_runners():
    from keras_dbal.experiments import ExperimentConfig

    args = cli._parser()[0].parse_args(["run"])
    defaults = ExperimentConfig()
    for name in ("rounds", "query_size", "mc_samples", "initial_per_class",
                 "epochs", "batch_size", "pool_subset"):
        assert getattr(args, name) == getattr(defaults, name), name
    assert tuple(args.seed) == defaults.seeds
    assert tuple(args.acquisition) == defaults.acquisitions
    assert tuple(args.deterministic) == defaults.deterministic


def test_init_defaults_are_init_sessions():
    import inspect

    from keras_dbal.tools import init_session

    args = cli._parser()[0].parse_args(
        ["init", "--state", "s", "--pool", "p.npz", "--num-classes", "3"]
    )
    for name, parameter in inspect.signature(init_session).parameters.items():
        if hasattr(args, name) and parameter.default is not parameter.empty:
            assert getattr(args, name) == parameter.default, name
    # The experiment's training, not the paper's 50 epochs of 128: with
    # fewer than 128 labels those are 50 gradient steps (see
    # ExperimentConfig), too few for a person's first rounds.
    assert args.epochs == 100 and args.batch_size == 32


@pytest.mark.slow
def test_ctrl_c_stops_a_run_and_keeps_the_rounds_it_finished(tmp_path):
    import signal
    import time

    out = tmp_path / "out"
    with subprocess.Popen(
        [sys.executable, "-m", "keras_dbal", "run", "--out", str(out),
         "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        # As in a terminal: a background job starts with SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as process:
        try:
            deadline = time.monotonic() + 300
            while not (out / "results.json").exists():
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline, "no round was written"
                time.sleep(0.2)
            time.sleep(1)
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=120)
        finally:
            process.kill()
    assert process.returncode == 130, err[-2000:]
    assert (f"interrupted; the rounds that finished are saved in {out}: "
            f"continue with the same command and --resume {out}.") in err
    results = json.loads((out / "results.json").read_text())
    assert results["complete"] is False
    runs = results["runs"]
    assert runs and all(run["num_labelled"] for run in runs)
