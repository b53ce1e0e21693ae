"""Simulated active-learning experiments in the protocol of Gal et al. (2017).

Start from a few balanced labels, acquire `query_size` images a round with
each acquisition function, refit from scratch, and record the test error
after every round. Used by `keras-dbal run` and by the benchmark suite.
"""

import os
import time

import keras
import numpy as np

from keras_dbal import training
from keras_dbal.active.learner import ActiveLearner
from keras_dbal.active.pool import Pool
from keras_dbal.active.selection import balanced_indices
from keras_dbal.experiments import state
from keras_dbal.experiments.config import POINT_MASS_FORMS
from keras_dbal.experiments.config import display_name as _name
from keras_dbal.experiments.curves import METRICS
from keras_dbal.experiments.curves import curve_name
from keras_dbal.experiments.simulation import simulate_together
from keras_dbal.models import Ensemble
from keras_dbal.models import gal_cnn
from keras_dbal.saving.atomic import remove_temporaries
from keras_dbal.saving.locking import lock_directory

__all__ = ["run_experiment"]


def run_experiment(data, config, *, progress=True, log=print,
                   on_result=None, strategy="auto", state_dir=None,
                   afresh=False, ray=None):
    """Run every acquisition function (and seed) of `config` on `data`.

    The runs advance in lockstep (`simulate_together`): each round every
    run queries and is taught, then all are refitted together, by the
    fastest way this device has (`strategy`). Each run's curve is the one
    a sequential `ActiveLearner` with its seed gives.

    Args:
        data: `((x_train, y_train), (x_test, y_test))`; the training split
            is the pool, its labels the oracle.
        config: An `ExperimentConfig`.
        progress: Show a progress bar over the rounds.
        log: Function that receives one line per run at the end.
        on_result: Function called with the results so far (every run's
            curve up to the current round) after every round, to save them
            as they come; if it returns True, the experiment stops there
            (its state kept: a later call with more `rounds` continues).
        strategy: How the runs' fits are computed: `"auto"` or one of
            `keras_dbal.training.STRATEGIES`; all give the same
            curves up to float rounding.
        state_dir: A directory to keep the experiment's state in after
            every round (`keras_dbal.experiments.state`; about a kilobyte
            per run and round).
            If it holds the state of this experiment (the same settings
            and data; `rounds` may be more), the experiment continues from
            its last finished round, to the same curves as a run never
            stopped. It is locked while the experiment runs.
        afresh: Start a new experiment in `state_dir` instead, replacing
            the state of a finished one; one with rounds to go is refused
            (`experiments.UnfinishedExperimentError`), never dropped.
        ray: None (one process), or run each seed's runs as a Ray task
            on a cluster: `"auto"` (the cluster `RAY_ADDRESS` names, else
            a new local one) or a cluster's address. Needs `state_dir`,
            where each seed keeps its state (`seed-<seed>/`), and the ray
            extra (`pip install "keras-dbal[ray]"`). A task whose worker
            dies continues from its last finished round on another; the
            results are those of one process, up to float rounding
            (`keras_dbal.distributed.studies`).

    Returns:
        A list of dicts, one per (acquisition, model, seed), with
        `acquisition`, `model` (`"bayesian"`, `"deterministic"` or
        `"ensemble"`), `bayesian` (whether `model` is the Bayesian CNN),
        `num_labelled`, `error` and `accuracy` lists (one entry per
        evaluation, the first before any acquisition), `labelled` (the
        pool positions labelled, in order: the initial ones, then each
        round's), `seconds` (the wall time of the whole experiment, which
        its runs share), and
        `error_without_dropout`: the test error of one pass with dropout
        off, how the authors' code measured it; it puts the Bayesian CNN
        and its deterministic twin on the same footing, so the two differ
        only in what they acquired.
    """
    (x_train, y_train), (x_test, y_test) = data
    config.check_data(y_train)
    if ray is not None:
        if strategy != "auto":
            # A bad name fails before any work. ("auto" is chosen on the
            # workers: here it would start the driver's GPUs.)
            training.choose(strategy)
        return _run_on_ray(data, config, ray=ray, state_dir=state_dir,
                           afresh=afresh, strategy=strategy,
                           progress=progress, log=log, on_result=on_result)
    training.choose(strategy)  # a bad name fails before any work
    if state_dir is not None:
        _check_layout(state_dir, on_ray=False)
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    runs = [
        (name, model_kind, seed)
        for name, model_kind in config.runs()
        for seed in config.seeds
    ]
    lock = saved = None
    if state_dir is not None:
        lock = lock_directory(state_dir)
    try:
        if state_dir is not None:
            # Under the lock: no other writer's temporary is in flight.
            remove_temporaries(state_dir, {state.FILE})
            digest = state.data_digest(data)
            if afresh:
                state.start_afresh(state_dir)
            saved = state.read(state_dir)
            if saved is not None:
                state.check_matches(saved, config, digest, state_dir)
        learners, pools = [], []
        for name, model_kind, seed in runs:
            learner, pool = _build_run(
                x_train, y_train, num_classes, name, model_kind, seed, config
            )
            learners.append(learner)
            pools.append(pool)
        saved_curves = None
        if saved is not None:
            saved_curves = state.restore(saved, learners, pools,
                                         config.query_size, state_dir)
        start = time.perf_counter() - (saved or {}).get("seconds", 0.0)

        def results_of(curves):
            seconds = time.perf_counter() - start
            return [
                _result(run, curve, seconds, learner.pool_indices_.tolist())
                for run, curve, learner in zip(
                    runs, curves, learners, strict=True
                )
            ]

        def on_round(curves):
            # The results first: a state on disk never runs ahead of them,
            # so a continued run that finds every round done has nothing
            # left to write.
            stop = on_result is not None and on_result(results_of(curves))
            if lock is not None:
                lock.check()
                state.write(
                    state_dir, config=config, digest=digest, runs=runs,
                    learners=learners, curves=curves,
                    seconds=time.perf_counter() - start,
                )
            return stop

        if progress:
            print(f"{len(runs)} runs in lockstep ({training.choose(strategy)}"
                  " fits): " + ", ".join(
                f"{curve_name(_name(name), model_kind)} seed {seed}"
                for name, model_kind, seed in runs
            ))
            if saved is not None:
                print(f"Continuing from {state_dir}: {saved['rounds_done']} "
                      f"of {config.rounds} rounds done.")
        curves = simulate_together(
            learners, pools, config.rounds, config.query_size,
            x_test=x_test, y_test=y_test, strategy=strategy,
            progress=progress, on_round=on_round, curves=saved_curves,
        )
    finally:
        if lock is not None:
            lock.release()
    results = results_of(curves)
    _log_results(results, log)
    return results


def _log_results(results, log):
    for result in results:
        log(
            f"{curve_name(result['acquisition'], result['model'])} seed "
            f"{result['seed']}: error {result['error'][0]:.3f} -> "
            f"{result['error'][-1]:.3f} with {result['num_labelled'][-1]} "
            "labels"
        )


def _check_layout(state_dir, on_ray):
    """Refuse to continue a study in the other layout: one process keeps
    one state file in `state_dir`, Ray one per seed beneath it."""
    import glob

    if on_ray and os.path.exists(os.path.join(state_dir, state.FILE)):
        raise ValueError(
            f"{state_dir} holds an experiment run in one process; continue "
            "it without Ray, or choose another folder."
        )
    if not on_ray and glob.glob(
        os.path.join(state_dir, "seed-*", state.FILE)
    ):
        raise ValueError(
            f"{state_dir} holds an experiment run on Ray (one state per "
            "seed); continue it on Ray, or choose another folder."
        )


def _run_on_ray(data, config, *, ray, state_dir, afresh, strategy,
                progress, log, on_result):
    """`run_experiment` with each seed's runs a Ray task."""
    from keras_dbal.distributed import ray_support
    from keras_dbal.distributed import studies

    ray_support.check_address(ray)
    ray_support.require_ray()  # before anything is written
    if state_dir is None:
        raise ValueError(
            "An experiment on Ray needs a `state_dir`: each seed's runs "
            "keep their state there, to continue after a lost worker."
        )
    runs = list(config.runs())
    os.makedirs(state_dir, exist_ok=True)
    lock = lock_directory(state_dir)
    reported = [0, []]  # rounds passed to on_result, and their results

    def results_at(states, rounds):
        # Each seed's state holds its whole curve: cut at `rounds`.
        return [
            _result(
                (name, kind, seed),
                group["runs"][index]["curve"][:rounds + 1],
                group["seconds"],
                group["runs"][index]["labelled"][
                    :len(group["runs"][index]["labelled"])
                    - (group["rounds_done"] - rounds) * config.query_size
                ],
            )
            for index, (name, kind) in enumerate(runs)
            for seed, group in zip(config.seeds, states, strict=True)
        ]

    def on_round(states):
        # As in one process: once per round every seed has finished, in
        # order, none skipped, none repeated.
        if on_result is None or any(one is None for one in states):
            return False
        done = min(one["rounds_done"] for one in states)
        # (The first call: the latest round only, as a continued run in
        # one process reports only the rounds it runs.)
        first = reported[0] + 1 if reported[1] else done
        for rounds in range(first, done + 1):
            reported[:] = [rounds, results_at(states, rounds)]
            if on_result(list(reported[1])):
                return True
        return False

    try:
        _check_layout(state_dir, on_ray=True)
        by_seed = studies.run_on_ray(
            run_experiment, data, config, address=ray, state_dir=state_dir,
            afresh=afresh, strategy=strategy, progress=progress,
            on_round=on_round,
        )
    finally:
        lock.release()
    if by_seed is None:  # stopped by on_result: the results so far
        return reported[1]
    results = [
        group[index]
        for index in range(len(runs))
        for group in by_seed
    ]
    _log_results(results, log)
    return results


def _result(run, curve, seconds, labelled):
    name, model_kind, seed = run
    return {
        "acquisition": _name(name),
        "bayesian": model_kind == "bayesian",
        "model": model_kind,
        "seed": seed,
        "num_labelled": [point["num_labelled"] for point in curve],
        # Every metric `summarize` averages, and accuracy beside them.
        **{
            metric: [point[metric] for point in curve]
            for metric in ("accuracy",) + METRICS
        },
        "seconds": seconds,
        "labelled": list(labelled),
    }


def _build_run(x_train, y_train, num_classes, name, model_kind, seed,
               config):
    """One run's learner, taught its balanced initial labels (not fitted
    yet), and its pool: what `simulate_together` starts from."""
    keras.utils.set_random_seed(seed)
    initial = balanced_indices(y_train, config.initial_per_class, seed=seed)
    bayesian = model_kind == "bayesian"

    def cnn(member_seed=seed):
        return gal_cnn(
            x_train.shape[1:],
            num_classes,
            bayesian=bayesian,
            variant=config.variant,
            weight_decay=config.weight_decay,
            num_labelled=len(initial),
            seed=member_seed,
        )

    if model_kind == "ensemble":
        # Each member's dropout seed differs too: a draw from the global
        # seed `from_builder` sets for that member.
        model = Ensemble.from_builder(
            lambda: cnn(int(np.random.randint(2**31 - 2))),
            config.ensemble_size, seed=seed,
        )
    else:
        model = cnn()
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    learner = ActiveLearner(
        model,
        acquisition=(
            POINT_MASS_FORMS.get(name, name)
            if model_kind == "deterministic" else name
        ),
        mc_samples=config.mc_samples if bayesian else 1,
        fit_kwargs={
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            "verbose": 0,
        },
        pool_subset=config.pool_subset,
        chunk_size=config.chunk_size,
        allow_deterministic=model_kind == "deterministic",
        seed=seed,
        input_range=config.input_range,
        equal_batches=config.equal_batches,
    )
    pool = Pool(x_train, y_train)
    learner.teach(pool, y_train[initial], indices=initial, fit=False)
    return learner, pool
