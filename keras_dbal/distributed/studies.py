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

from keras_dbal.distributed.ray_support import connect
from keras_dbal.distributed.ray_support import worker_options
from keras_dbal.experiments import state
from keras_dbal.saving.locking import StateLockedError
from keras_dbal.saving.locking import lock_directory

__all__ = ["MAX_RETRIES", "LostWorkerError", "group_folder", "run_on_ray"]

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
            The caller holds its lock.
        progress: Print a line whenever a seed finishes a round.
        on_round: Called with every group's saved state (None for a group
            with no finished round yet) whenever one changes; returning
            True cancels the groups (their states stay).
        poll_seconds: How often the driver looks at the groups' states.

    Returns:
        Per seed, in `config.seeds` order, that seed's `run_experiment`
        results, or None if `on_round` stopped the study.

    Raises:
        UnfinishedExperimentError: `afresh` where a seed has rounds to go
            (nothing is removed).
        ValueError: a seed's saved state is another experiment's, or a
            task's own error (raised as soon as it happens; the other
            seeds are cancelled, their states kept).
        LostWorkerError: a seed's worker died more than `MAX_RETRIES`
            times.
    """
    folders = [group_folder(state_dir, seed) for seed in config.seeds]
    configs = [dataclasses.replace(config, seeds=(seed,))
               for seed in config.seeds]
    saved = _prepare_groups(folders, configs, state.data_digest(data),
                            afresh)
    ray = connect(address)
    if progress:
        for seed, one in zip(config.seeds, saved, strict=True):
            print(f"seed {seed}: " + (
                f"continuing from round {one['rounds_done']} of "
                f"{config.rounds}" if one else "starting"
            ), flush=True)
    task = ray.remote(_run_group).options(
        max_retries=MAX_RETRIES, **worker_options(ray)
    )
    data_ref = ray.put(data)
    tasks = [
        task.remote(run, data_ref, one, folder, strategy)
        for one, folder in zip(configs, folders, strict=True)
    ]
    seen = [None] * len(folders)
    try:
        pending = list(tasks)
        while pending:
            ready, pending = ray.wait(pending, timeout=poll_seconds)
            _get(ray, ready, tasks, config.seeds)  # a failure, at once
            states = [_read(folder) for folder in folders]
            done = [one and one["rounds_done"] for one in states]
            if done != seen:
                seen = done
                if progress:
                    print(_progress_line(config, done), flush=True)
                if on_round(states):
                    for task_ref in pending:
                        ray.cancel(task_ref, force=True)
                    return None
        return _get(ray, tasks, tasks, config.seeds)
    except BaseException:
        for task_ref in tasks:
            ray.cancel(task_ref, force=True)
        raise


class LostWorkerError(RuntimeError):
    """A seed's task lost its worker more often than Ray retries it; its
    state keeps its last finished round."""


# Ray's default for tasks: a worker lost three times in a row is more
# likely a cause that kills every worker (memory) than bad luck.
MAX_RETRIES = 3


def _prepare_groups(folders, configs, digest, afresh):
    """Every seed's saved state (or None), checked against its settings
    and data before any task starts: with `afresh`, finished states are
    removed only when no seed has rounds to go."""
    locks = []
    try:
        for folder in folders:
            os.makedirs(folder, exist_ok=True)
            # A task of a stopped or dead driver may still be ending.
            locks.append(_waiting(lambda f=folder: lock_directory(f)))
        saved = [state.read(folder) for folder in folders]
        if afresh:
            for folder, one in zip(folders, saved, strict=True):
                if one is not None:
                    state.refuse_unfinished(one, os.path.dirname(folder))
            for folder in folders:
                state.start_afresh(folder)  # finished: removed
            return [None] * len(folders)
        for folder, one, config in zip(folders, saved, configs,
                                       strict=True):
            if one is not None:
                state.check_matches(one, config, digest, folder)
        return saved
    finally:
        for lock in locks:
            lock.release()


def _get(ray, refs, tasks, seeds):
    """`ray.get` of each of `refs` (some of `tasks`, one per seed), a
    task's own error raised as itself and a lost worker's as
    `LostWorkerError`."""
    results = []
    for ref in refs:
        try:
            results.append(ray.get(ref))
        except ray.exceptions.RayTaskError as error:
            cause = getattr(error, "cause", None)
            if isinstance(cause, Exception):
                raise cause from None
            raise
        except (ray.exceptions.WorkerCrashedError,
                ray.exceptions.NodeDiedError) as error:
            seed = seeds[tasks.index(ref)]
            raise LostWorkerError(
                f"The worker running seed {seed} died {MAX_RETRIES + 1} "
                f"times ({type(error).__name__}); its state keeps its last "
                "finished round. Look for what kills it (memory?), then "
                "continue the study."
            ) from None
    return results


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


def _waiting(attempt):
    """`attempt()`, tried again while it finds its folder locked, for up
    to `_LOCK_WAIT_SECONDS`: the holder is a task Ray is ending (a dead
    or stopped driver's, a dead worker's), and the kernel frees its lock
    when its process is gone."""
    deadline = time.monotonic() + _LOCK_WAIT_SECONDS
    while True:
        try:
            return attempt()
        except StateLockedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _run_group(run_experiment, data, config, folder, strategy):
    """One seed's runs, in a Ray worker: `run_experiment` in `folder`,
    continuing its state (a retry waits for the dead attempt's lock)."""
    return _waiting(lambda: run_experiment(
        data, config, progress=False, log=lambda line: None,
        strategy=strategy, state_dir=folder,
    ))
