"""Experiments on a local Ray cluster: the same results as one process,
through a worker's SIGKILL and a driver's.

Skipped without the ray extra (`pip install "keras-dbal[ray]"`); CI
installs it. One local cluster of 2 CPUs serves the module.
"""

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from keras_dbal.distributed.studies import group_folder
from keras_dbal.experiments import ExperimentConfig
from keras_dbal.experiments import run_experiment
from keras_dbal.experiments import state
from keras_dbal.saving.locking import StateLockedError
from keras_dbal.saving.locking import lock_directory

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow

SEEDS = (0, 1)
ROUNDS = 3


def _config(rounds=ROUNDS):
    return ExperimentConfig(
        acquisitions=("bald", "random"), seeds=SEEDS, rounds=rounds,
        query_size=5, initial_per_class=2, mc_samples=3, epochs=3,
        batch_size=8, pool_subset=100,
    )


@pytest.fixture(scope="module")
def reference(digits):
    return run_experiment(digits, _config(), progress=False,
                          log=lambda line: None)


def _same_runs(first, second):
    assert [(r["acquisition"], r["model"], r["seed"]) for r in first] == [
        (r["acquisition"], r["model"], r["seed"]) for r in second
    ]
    for one, other in zip(first, second, strict=True):
        assert one["labelled"] == other["labelled"]
        assert one["num_labelled"] == other["num_labelled"]
        np.testing.assert_allclose(one["error"], other["error"], atol=1e-9)


def test_a_study_on_ray_equals_one_process(ray_cluster, digits, reference,
                                           tmp_path):
    seen = []
    results = run_experiment(
        digits, _config(), progress=False, log=lambda line: None,
        state_dir=tmp_path, ray=ray_cluster,
        on_result=lambda so_far: seen.append(so_far) and False,
    )
    _same_runs(reference, results)
    # Each seed kept its own state, every round done.
    for seed in SEEDS:
        assert state.read(group_folder(tmp_path, seed))["rounds_done"] == 3
    # The results so far came round by round, the last one whole.
    assert [len(so_far[0]["error"]) for so_far in seen][-1] == ROUNDS + 1
    _same_runs(reference, seen[-1])


def _holder(folder):
    with open(os.path.join(folder, ".lock")) as file:
        return json.load(file)["pid"]


def test_a_worker_killed_mid_round_costs_a_round_not_the_study(
        ray_cluster, digits, reference, tmp_path):
    folders = [group_folder(tmp_path, seed) for seed in SEEDS]
    killed = []

    def kill_once(so_far):
        # Every seed has fitted its first labels: kill one still running,
        # in the middle of a round.
        if not killed:
            running = next(
                folder for folder in folders
                if state.read(folder)["rounds_done"] < ROUNDS
            )
            killed.extend([running, _holder(running)])
            os.kill(killed[1], signal.SIGKILL)
        return False

    results = run_experiment(
        digits, _config(), progress=False, log=lambda line: None,
        state_dir=tmp_path, ray=ray_cluster, on_result=kill_once,
    )
    assert killed and _holder(killed[0]) != killed[1]  # a retry went on
    _same_runs(reference, results)


def test_a_stopped_study_is_kept_checked_and_continued(
        ray_cluster, digits, reference, tmp_path):
    stopped = run_experiment(
        digits, _config(), progress=False, log=lambda line: None,
        state_dir=tmp_path, ray=ray_cluster,
        on_result=lambda so_far: len(so_far[0]["error"]) > 1,  # a round
    )
    folders = [group_folder(tmp_path, seed) for seed in SEEDS]
    done = [state.read(folder)["rounds_done"] for folder in folders]
    assert min(done) >= 1 and min(done) < ROUNDS, done
    assert len(stopped[0]["error"]) == min(done) + 1
    # A fresh start drops nothing while a seed has rounds to go.
    with pytest.raises(state.UnfinishedExperimentError):
        run_experiment(digits, _config(), progress=False,
                       state_dir=tmp_path, ray=ray_cluster, afresh=True)
    # Other settings are refused before any task runs or result is given.
    other = dataclasses.replace(_config(), query_size=4)
    with pytest.raises(ValueError, match="query_size"):
        run_experiment(digits, other, progress=False, state_dir=tmp_path,
                       ray=ray_cluster, on_result=pytest.fail)
    assert [state.read(f)["rounds_done"] for f in folders] == done
    # One process will not take a Ray study's folder.
    with pytest.raises(ValueError, match="on Ray"):
        run_experiment(digits, _config(), progress=False,
                       state_dir=tmp_path)
    results = run_experiment(digits, _config(), progress=False,
                             log=lambda line: None, state_dir=tmp_path,
                             ray=ray_cluster)
    _same_runs(reference, results)


def _wait_until_free(folder, seconds=120):
    deadline = time.monotonic() + seconds
    while True:
        try:
            lock_directory(folder).release()
            return
        except StateLockedError:
            assert time.monotonic() < deadline, f"{folder} stays locked"
            time.sleep(0.2)


def _cli(out, address):
    return [
        sys.executable, "-m", "keras_dbal", "run", "--ray", address,
        "--resume", str(out), "--acquisition", "bald", "random",
        "--deterministic", "--seed", *map(str, SEEDS), "--rounds",
        str(ROUNDS), "--query-size", "5", "--initial-per-class", "2",
        "--mc-samples", "3", "--epochs", "3", "--batch-size", "8",
        "--pool-subset", "100",
    ]


def test_a_driver_killed_mid_study_is_rerun_to_the_same_results(
        ray_cluster, reference, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    driver = subprocess.Popen(_cli(tmp_path, ray_cluster), env=env,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    folders = [group_folder(tmp_path, seed) for seed in SEEDS]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and driver.poll() is None:
        states = [state.read(f) if os.path.isdir(f) else None
                  for f in folders]
        if all(states) and min(s["rounds_done"] for s in states) >= 1:
            break
        time.sleep(0.05)
    assert driver.poll() is None, driver.communicate()[1]
    driver.send_signal(signal.SIGKILL)
    driver.communicate()
    for folder in folders:  # Ray ends the dead driver's tasks
        _wait_until_free(folder)
    done = [state.read(f)["rounds_done"] for f in folders]
    assert min(done) >= 1

    rerun = subprocess.run(_cli(tmp_path, ray_cluster), env=env,
                           capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    # Each seed went on from the rounds it had, not from the start.
    for seed, folder, rounds in zip(SEEDS, folders, done, strict=True):
        assert (f"seed {seed}: continuing from round {rounds} of {ROUNDS}"
                in rerun.stdout)
        assert state.read(folder)["rounds_done"] == ROUNDS
    with open(tmp_path / "results.json") as file:
        _same_runs(reference, json.load(file)["runs"])


def test_an_address_no_cluster_answers_at_is_refused_at_once(tmp_path):
    # Ray itself would retry for minutes, warning every few seconds.
    from keras_dbal.distributed import ray_support

    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(ValueError, match="No Ray cluster answers"):
        ray_support._check_reachable(f"127.0.0.1:{port}")
    assert time.monotonic() - start < 5
    for address in ("nonsense", "host:port", "", None, 3):
        with pytest.raises(ValueError, match="argument `ray`"):
            ray_support.check_address(address)
            ray_support._check_reachable(address)
