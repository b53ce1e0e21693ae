"""An experiment's runs on a Ray cluster, resumable round by round.

`run_experiment(data, config, state_dir=DIR, ray="auto")` splits the
experiment by seed: each seed's runs (every acquisition function and
model of the config) are one Ray task that runs them in lockstep, as
`run_experiment` does in one process, and keeps its state in
`DIR/seed-<seed>/` after every round (`keras_dbal.experiments.state`).
Ray retries a task whose worker dies (SIGKILL, a lost node); the retry
continues from the group's last finished round. A driver that dies is
rerun with the same call (`keras-dbal run --resume DIR --ray auto`), and
every group continues from its own last round. A run's curve does not
depend on the runs beside it, so the results are those of one process,
up to float rounding: Ray changes where the runs execute, not what they
compute.

The folder must be one every worker can reach: on one machine any local
folder, on a cluster of machines a shared file system.
"""

import dataclasses
import os
import time

from keras_dbal import backend
from keras_dbal.distributed.ray_support import connect
from keras_dbal.experiments import state
from keras_dbal.saving.locking import StateLockedError
from keras_dbal.saving.locking import lock_directory

__all__ = ["group_folder", "run_on_ray"]

# How long a retried group waits for a dead attempt's lock to go.
_LOCK_WAIT_SECONDS = 120.0


def group_folder(state_dir, seed):
    """The state folder of one seed's runs."""
    return os.path.join(state_dir, f"seed-{seed}")


def run_on_ray(run, data, config, *, address, state_dir, afresh, strategy,
               progress, on_round, poll_seconds=1.0):
    """Run the experiment's seeds as Ray tasks; see `run_experiment`.

    Args:
        run: `run_experiment` itself, which each task calls on its seed's
            runs in one process (passed in: this module serves it).
        data, config, strategy, afresh: As `run_experiment`'s.
        address: The cluster (`ray_support.connect`).
        state_dir: The study's folder, every group's state beneath it.
        progress: Print a line per finished round of a group.
        on_round: Called with every group's saved state (None for a group
            with no finished round yet) whenever one changes; returning
            True cancels the groups (their states stay).
        poll_seconds: How often the driver looks at the groups' states.

    Returns:
        Per seed, in `config.seeds` order, that seed's `run_experiment`
        results.
    """
    ray = connect(address)
    folders = [group_folder(state_dir, seed) for seed in config.seeds]
    for folder in folders:
        os.makedirs(folder, exist_ok=True)
        if afresh:
            # Here, not in the task: a retried task must continue.
            lock = lock_directory(folder)
            try:
                state.start_afresh(folder)
            finally:
                lock.release()
    if progress:
        for seed, folder in zip(config.seeds, folders, strict=True):
            saved = _read(folder)
            print(f"seed {seed}: " + (
                f"continuing from round {saved['rounds_done']} of "
                f"{config.rounds}" if saved else "starting"
            ), flush=True)
    options = {
        "max_retries": -1,  # a dead worker's group always goes on
        "num_gpus": 1 if ray.cluster_resources().get("GPU", 0) else 0,
        "runtime_env": {"env_vars": {
            "KERAS_BACKEND": backend.name(),
            "TF_CPP_MIN_LOG_LEVEL": os.environ.get(
                "TF_CPP_MIN_LOG_LEVEL", "3"),
        }},
    }
    task = ray.remote(_run_group).options(**options)
    data_ref = ray.put(data)
    tasks = [
        task.remote(
            run, data_ref, dataclasses.replace(config, seeds=(seed,)),
            folder, strategy,
        )
        for seed, folder in zip(config.seeds, folders, strict=True)
    ]
    seen = [None] * len(folders)
    try:
        pending = list(tasks)
        while pending:
            _, pending = ray.wait(pending, timeout=poll_seconds)
            states = [_read(folder) for folder in folders]
            done = [s and s["rounds_done"] for s in states]
            if done != seen:
                seen = done
                if progress:
                    print(_progress_line(config, done), flush=True)
                if on_round(states):
                    for task_ref in pending:
                        ray.cancel(task_ref, force=True)
                    return None
        return ray.get(tasks)
    except BaseException:
        for task_ref in tasks:
            ray.cancel(task_ref, force=True)
        raise


def _read(folder):
    try:
        return state.read(folder)
    except (OSError, ValueError):  # mid-replace on a file system without
        return None                # atomic rename: seen next time


def _progress_line(config, done):
    parts = [
        f"seed {seed} {rounds or 0}/{config.rounds}"
        for seed, rounds in zip(config.seeds, done, strict=True)
    ]
    return "rounds done: " + ", ".join(parts)


def _run_group(run_experiment, data, config, folder, strategy):
    """One seed's runs, in a Ray worker: `run_experiment` in `folder`,
    continuing its state. A retry after a worker died waits for the dead
    attempt's lock (the kernel frees it when that process is gone)."""
    deadline = time.monotonic() + _LOCK_WAIT_SECONDS
    while True:
        try:
            return run_experiment(
                data, config, progress=False, log=lambda line: None,
                strategy=strategy, state_dir=folder,
            )
        except StateLockedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)
