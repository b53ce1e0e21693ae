"""Continuing a stopped experiment: the state kept after every round, a
real SIGKILL between rounds, and the refit that makes it exact."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_dbal import experiments
from keras_dbal.experiments import state
from keras_dbal.layers import MCDropout
from keras_dbal.saving.atomic import temporary_path
from keras_dbal.saving.locking import StateLockedError
from keras_dbal.tools import cli
from keras_dbal.training import refit


def _config(rounds):
    return experiments.ExperimentConfig(
        acquisitions=("bald",), deterministic=("max_entropy",), seeds=(0,),
        rounds=rounds, query_size=5, epochs=3, batch_size=8, mc_samples=3,
        pool_subset=100,
    )


def _run(digits, rounds, directory, **kwargs):
    return experiments.run_experiment(
        digits, _config(rounds), progress=False, log=lambda *_: None,
        state_dir=directory, **kwargs,
    )


def _same_runs(first, second):
    assert len(first) == len(second)
    for one, other in zip(first, second, strict=True):
        assert one["labelled"] == other["labelled"]
        assert one["num_labelled"] == other["num_labelled"]
        np.testing.assert_allclose(one["error"], other["error"], atol=1e-9)
        np.testing.assert_allclose(
            one["error_without_dropout"], other["error_without_dropout"],
            atol=1e-9,
        )


@pytest.mark.slow
@pytest.mark.jax
def test_reseeded_fit_repeats_its_weights():
    """A fit's dropout masks depend on its seed alone: the same data and
    seed give the same weights after other fits ran in between."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
        MCDropout(0.5, seed=3), keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy")
    weights, optimizer_state = refit.snapshot(model)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6)).astype("float32")
    y = rng.integers(0, 3, 32)

    def fit(seed):
        refit.prepare_fit(model, len(x), initial_weights=weights,
                          initial_optimizer_state=optimizer_state)
        refit.reseed_dropout(model, seed)
        refit.fit(model, x, y, {"epochs": 3, "batch_size": 8, "verbose": 0},
                  seed=1)
        return model.get_weights()

    first = fit(seed=11)
    fit(seed=12)  # advances every generator
    again = fit(seed=11)
    for one, other in zip(first, again, strict=True):
        np.testing.assert_array_equal(one, other)
    other_masks = fit(seed=12)
    assert not np.allclose(first[0], other_masks[0])


@pytest.mark.slow
@pytest.mark.jax
def test_stopped_experiment_continues_to_the_same_curves(digits, tmp_path):
    whole = _run(digits, 3, tmp_path / "whole")
    # Stopped by its own callback after the first round, then continued.
    stopped = _run(digits, 3, tmp_path / "part",
                   on_result=lambda results:
                   len(results[0]["num_labelled"]) == 2)
    assert [len(run["num_labelled"]) for run in stopped] == [2, 2]
    saved = state.read(tmp_path / "part")
    assert saved["rounds_done"] == 1
    assert [run["labelled"] for run in saved["runs"]] == [
        run["labelled"] for run in stopped
    ]
    # A killed writer's temporary is removed once the run holds the lock.
    stale = pathlib.Path(temporary_path(tmp_path / "part" / state.FILE))
    stale.write_text("{")
    continued = _run(digits, 3, tmp_path / "part")
    assert not stale.exists()
    _same_runs(whole, continued)
    assert state.read(tmp_path / "part")["rounds_done"] == 3


@pytest.mark.slow
def test_a_locked_directory_is_refused(digits, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from keras_dbal.saving.locking import lock_directory\n"
         "held = lock_directory(sys.argv[1])\n"
         "print('held', flush=True)\n"
         "time.sleep(120)\n",
         str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StateLockedError, match="in use"):
            _run(digits, 2, tmp_path)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert not os.path.exists(tmp_path / state.FILE)


def _cli(out, *options):
    return [
        sys.executable, "-m", "keras_dbal", "run", *options,
        "--acquisition", "bald", "--deterministic", "max_entropy",
        "--seed", "0", "--rounds", "4", "--query-size", "5", "--epochs",
        "3", "--batch-size", "8", "--mc-samples", "3", "--pool-subset",
        "100", "--quiet",
    ] + (["--out", str(out)] if out is not None else [])


def _results(folder):
    with open(folder / "results.json") as file:
        return json.load(file)["runs"]


@pytest.mark.slow
def test_run_killed_between_rounds_resumes_to_the_same_results(tmp_path,
                                                              capsys):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    # The reference and the refusals run in this process (the same
    # command, without a process's start-up); the kill needs its own.
    assert cli.main(_cli(whole)[3:]) == 0

    process = subprocess.Popen(_cli(killed), env=env,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if state.read(killed)["rounds_done"] >= 2:
                break
        except (TypeError, ValueError, OSError):
            pass  # no state yet
        time.sleep(0.02)
    assert process.poll() is None, process.communicate()[1]
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    saved = state.read(killed)
    assert 2 <= saved["rounds_done"] < 4

    # The same command without --resume will not drop the unfinished run.
    capsys.readouterr()
    assert cli.main(_cli(killed)[3:]) == 2
    refusal = capsys.readouterr().err
    assert "unfinished experiment" in refusal
    assert f"--resume {killed}" in refusal

    resumed = subprocess.run(
        [arg for arg in _cli(None, "--resume", str(killed))
         if arg != "--quiet"],
        env=env, capture_output=True, text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert (f"Continuing from {killed}: {saved['rounds_done']} of 4 rounds "
            "done.") in resumed.stdout
    _same_runs(_results(whole), _results(killed))
    assert state.read(killed)["rounds_done"] == 4

    # A fresh start that fails (no such data file) drops nothing.
    assert cli.main(_cli(killed)[3:] + ["--data", "/no/such.npz"]) == 2
    assert state.read(killed)["rounds_done"] == 4


@pytest.mark.backend_independent
def test_continuing_needs_the_same_settings_and_data(tmp_path):
    config = _config(3)
    saved = {"config": state.describe(config), "data": "abc",
             "rounds_done": 2}
    state.check_matches(saved, _config(5), "abc", tmp_path)  # more rounds
    with pytest.raises(ValueError, match="epochs=3 there, epochs=4 now"):
        state.check_matches(
            saved, experiments.ExperimentConfig(
                **{**vars(config), "epochs": 4}
            ), "abc", tmp_path,
        )
    with pytest.raises(ValueError, match="other data"):
        state.check_matches(saved, config, "abd", tmp_path)
    with pytest.raises(ValueError, match="2 rounds in; received rounds=1"):
        state.check_matches(saved, _config(1), "abc", tmp_path)


def _state(rounds_done, rounds, **changes):
    run = {"acquisition": "bald", "model": "bayesian", "seed": 0,
           "labelled": list(range(10 + 5 * rounds_done)),
           "history": [{}] * rounds_done,
           "curve": [{}] * (rounds_done + 1)}
    return {"format": state.FORMAT, "config": {"rounds": rounds},
            "data": "abc", "backend": "tensorflow", "seconds": 1.0,
            "rounds_done": rounds_done, "runs": [{**run, **changes}]}


@pytest.mark.backend_independent
def test_start_afresh_keeps_an_unfinished_experiment(tmp_path):
    path = tmp_path / state.FILE
    path.write_text(json.dumps(_state(2, 3)))
    with pytest.raises(experiments.UnfinishedExperimentError,
                       match="2 of 3 rounds done"):
        state.start_afresh(tmp_path)
    assert path.exists()
    path.write_text(json.dumps(_state(3, 3)))
    state.start_afresh(tmp_path)
    assert not path.exists()
    path.write_text("{half")
    with pytest.raises(ValueError, match="could not be read"):
        state.read(tmp_path)


@pytest.mark.backend_independent
@pytest.mark.parametrize("changes, match", [
    ({"labelled": [0, 1, 1]}, "labels a position twice"),
    ({"labelled": [0, -4]}, "has no list of labelled positions"),
    ({"labelled": None}, "has no list of labelled positions"),
    ({"history": []}, "does not hold 2 queries"),
    ({"curve": [{}]}, "does not hold 3 curve points"),
])
def test_a_damaged_state_is_named_not_trusted(tmp_path, changes, match):
    (tmp_path / state.FILE).write_text(json.dumps(_state(2, 4, **changes)))
    with pytest.raises(ValueError,
                       match=f"{state.FILE} is damaged: run 0 {match}"):
        state.read(tmp_path)
    broken = _state(2, 4)
    del broken["config"]
    (tmp_path / state.FILE).write_text(json.dumps(broken))
    with pytest.raises(ValueError, match="damaged: no settings"):
        state.read(tmp_path)


@pytest.mark.slow
def test_results_are_written_before_the_state(digits, tmp_path):
    """A stop between the two writes leaves the state behind the results,
    never ahead: the continued run redoes that round and rewrites both."""
    seen = []

    def stop_in_round_two(results):
        seen.append(len(results[0]["num_labelled"]))
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(digits, 3, tmp_path, on_result=stop_in_round_two)
    assert seen == [1, 2, 3]
    assert state.read(tmp_path)["rounds_done"] == 1


@pytest.mark.backend_independent
def test_reading_leaves_a_writers_temporary_alone(tmp_path):
    """`keras-dbal run --resume` reads the state before it takes the lock:
    the file another process is writing then must stay where it is."""
    (tmp_path / state.FILE).write_text(json.dumps(_state(1, 3)))
    in_flight = pathlib.Path(temporary_path(tmp_path / state.FILE))
    in_flight.write_text("{")
    assert state.read(tmp_path)["rounds_done"] == 1
    assert in_flight.exists()


@pytest.mark.backend_independent
def test_data_digest_tells_data_apart(digits):
    (x, y), test = digits
    same = state.data_digest(((x.copy(), y.copy()), test))
    assert same == state.data_digest(digits)
    changed = y.copy()
    changed[0] = (changed[0] + 1) % 10
    assert state.data_digest(((x, changed), test)) != same
