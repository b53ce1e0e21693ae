"""What an experiment keeps after every round, to continue after a stop.

`run_experiment(..., state_dir=DIR)` replaces `DIR/experiment_state.json`
whole after every round (`keras_dbal.saving.replacing`): the settings, a
digest of the data, and for each run its labelled pool positions in order,
its queries (`ActiveLearner.history_`, without what the curve already
holds) and its curve. That
is all a run is: every fit starts from the same weights with masks and
batch orders drawn from its own seed (`refit.reseed_dropout`), so a run
rebuilt from this file and refitted on its labelled set is the run that
stopped, and it goes on to the same curve as one never stopped. No weights
are kept: about a kilobyte per run and round.

A SIGKILL at any moment leaves the file of the last finished round (or
none, before the first). The directory is locked while an experiment
writes into it (`keras_dbal.saving.locking`), so a second process that
tries to continue the same experiment at the same time is refused.
"""

import dataclasses
import hashlib
import json
import os

import numpy as np

from keras_dbal import backend
from keras_dbal.saving.atomic import write_atomically

__all__ = [
    "FILE",
    "check_matches",
    "data_digest",
    "describe",
    "read",
    "refuse_unfinished",
    "UnfinishedExperimentError",
    "restore",
    "start_afresh",
    "write",
]

FILE = "experiment_state.json"
FORMAT = 1


class UnfinishedExperimentError(ValueError):
    """A fresh start was asked for where an unfinished experiment is.

    Args:
        directory: Its directory.
        rounds_done: The rounds it finished.
        rounds: The rounds it was asked for.

    Attributes:
        directory: Its directory.
        rounds_done: The rounds it finished.
        rounds: The rounds it was asked for.
    """

    def __init__(self, directory, rounds_done, rounds):
        super().__init__(
            f"{directory} holds an unfinished experiment ({rounds_done} of "
            f"{rounds} rounds done). Continue it (run_experiment continues "
            "the state it finds unless afresh=True), or choose another "
            "directory."
        )
        self.directory = directory
        self.rounds_done = rounds_done
        self.rounds = rounds

# Settings a continued experiment may change: more rounds extend it.
_MAY_CHANGE = frozenset({"rounds"})


def describe(config):
    """An `ExperimentConfig` as JSON values (acquisition objects by their
    class and `get_config`), to compare a continued experiment's settings
    with the saved ones."""

    def value_of(value):
        if isinstance(value, (tuple, list)):
            return [value_of(item) for item in value]
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if hasattr(value, "get_config"):
            return {
                "class_name": type(value).__name__,
                "config": value_of(value.get_config()),
            }
        if isinstance(value, dict):
            return {key: value_of(item) for key, item in value.items()}
        return repr(value)

    return {
        field.name: value_of(getattr(config, field.name))
        for field in dataclasses.fields(config)
    }


def data_digest(data):
    """A SHA-256 of an experiment's `((x_train, y_train), (x_test,
    y_test))`: shapes, dtypes and values."""
    digest = hashlib.sha256()
    (x_train, y_train), (x_test, y_test) = data
    for array in (x_train, y_train, x_test, y_test):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def read(directory):
    """The saved state in `directory`, or None if it has none.

    It takes no lock and removes nothing, so it may look at a directory
    another process is writing into (that writer's temporary file is its
    own; `run_experiment` removes a killed writer's under the lock).

    Raises:
        ValueError: the file is there but not a state this version reads.
    """
    path = os.path.join(directory, FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as file:
            state = json.load(file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"{path} could not be read as an experiment's state ({error}). "
            "Move it away to start the experiment afresh."
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not an experiment state this version of keras_dbal "
            f"reads (format {FORMAT})."
        )
    problem = _structure_problem(state)
    if problem:
        raise ValueError(
            f"{path} is damaged: {problem}. Move it away to start the "
            "experiment afresh."
        )
    return state


def _structure_problem(state):
    """What is wrong with a state's fields and their counts, or None."""
    def is_int(value):
        return isinstance(value, int) and not isinstance(value, bool)

    if not isinstance(state.get("config"), dict) or not is_int(
        state["config"].get("rounds")
    ):
        return "no settings"
    done = state.get("rounds_done")
    if not is_int(done) or done < 0:
        return "no count of finished rounds"
    if not isinstance(state.get("data"), str):
        return "no digest of the data"
    if not isinstance(state.get("seconds"), (int, float)):
        return "no wall time"
    runs = state.get("runs")
    if not isinstance(runs, list) or not runs:
        return "no runs"
    for index, run in enumerate(runs):
        if not isinstance(run, dict):
            return f"run {index} is not a record"
        labelled = run.get("labelled")
        if not isinstance(labelled, list) or not all(
            is_int(position) and position >= 0 for position in labelled
        ):
            return f"run {index} has no list of labelled positions"
        if len(set(labelled)) != len(labelled):
            return f"run {index} labels a position twice"
        if not isinstance(run.get("history"), list) or len(
            run["history"]
        ) != done:
            return f"run {index} does not hold {done} queries"
        if not isinstance(run.get("curve"), list) or len(
            run["curve"]
        ) != done + 1 or not all(isinstance(p, dict) for p in run["curve"]):
            return f"run {index} does not hold {done + 1} curve points"
    return None


def start_afresh(directory):
    """Remove the state of a finished experiment from `directory`, so that
    a new one starts there; refuse to drop an unfinished one. Call it
    holding the directory's lock.

    Raises:
        UnfinishedExperimentError: `directory` holds an experiment with
            rounds to go.
    """
    saved = read(directory)
    if saved is None:
        return
    refuse_unfinished(saved, directory)
    os.remove(os.path.join(directory, FILE))


def refuse_unfinished(saved, directory):
    """Raise `UnfinishedExperimentError` if the state `saved` (read from
    `directory`) has rounds to go."""
    if saved["rounds_done"] < saved["config"]["rounds"]:
        raise UnfinishedExperimentError(
            directory, saved["rounds_done"], saved["config"]["rounds"]
        )


def check_matches(state, config, digest, directory):
    """Raise a `ValueError` unless `state` is this experiment's: the same
    settings (`rounds` aside, but no fewer than are done) and data."""
    saved, given = state["config"], describe(config)
    differing = sorted(
        name for name in saved.keys() | given.keys()
        if name not in _MAY_CHANGE and saved.get(name) != given.get(name)
    )
    if differing:
        shown = "; ".join(
            f"{name}={saved.get(name)!r} there, {name}={given.get(name)!r} "
            "now"
            for name in differing
        )
        raise ValueError(
            f"{directory} holds an experiment with other settings ({shown}). "
            "Continue it with the same settings, or choose another "
            "directory."
        )
    if state["data"] != digest:
        raise ValueError(
            f"{directory} holds an experiment on other data (another data "
            "set or file). Continue it on the same data, or choose another "
            "directory."
        )
    if state["rounds_done"] > config.rounds:
        raise ValueError(
            f"{directory} holds an experiment {state['rounds_done']} rounds "
            f"in; received rounds={config.rounds}. Ask for at least "
            f"{state['rounds_done']}."
        )


def write(directory, *, config, digest, runs, learners, curves, seconds):
    """Replace the state file of `directory` with the state after the
    latest round."""
    state = {
        "format": FORMAT,
        "config": describe(config),
        "data": digest,
        "backend": backend.name(),
        "rounds_done": len(curves[0]) - 1,
        "seconds": seconds,
        "runs": [
            {
                "acquisition": str(name),
                "model": model_kind,
                "seed": seed,
                "labelled": learner.pool_indices_.tolist(),
                # Each query's `after_teach` is the curve's next point.
                "history": [
                    {key: value for key, value in entry.items()
                     if key != "after_teach"}
                    for entry in learner.history_
                ],
                "curve": curve,
            }
            for (name, model_kind, seed), learner, curve in zip(
                runs, learners, curves, strict=True
            )
        ],
    }
    write_atomically(
        os.path.join(directory, FILE),
        json.dumps(state, default=_plain, separators=(",", ":")),
    )


def restore(state, learners, pools, query_size, directory):
    """Bring freshly built learners (taught their initial labels, not
    fitted) to the saved state: taught every saved label in order, their
    queries and fit counts restored, ready to repeat their last fit.
    Fields an older writer kept (`num_fits`, each query's `after_teach`)
    are derived from the curve instead.

    Returns:
        The saved curves, one per learner.
    """
    runs = state["runs"]
    path = os.path.join(directory, FILE)
    if len(runs) != len(learners):
        raise ValueError(
            f"{path} has {len(runs)} runs; this experiment has "
            f"{len(learners)}. Move it away to start afresh."
        )
    for run, learner, pool in zip(runs, learners, pools, strict=True):
        labelled = np.asarray(run["labelled"], dtype="int64")
        initial = learner.pool_indices_
        expected = len(initial) + state["rounds_done"] * query_size
        if len(labelled) != expected or (
            len(labelled) and labelled.max() >= len(pool)
        ):
            raise ValueError(
                f"{path} is damaged: a run's labelled positions are not "
                f"{expected} positions of the {len(pool)}-image pool. Move "
                "it away to start afresh."
            )
        if not np.array_equal(labelled[:len(initial)], initial):
            raise ValueError(
                f"{path}: the initial labels differ from this "
                "experiment's (another seed or data)."
            )
        rest = labelled[len(initial):]
        if len(rest):
            learner.teach(pool, pool.oracle(rest), indices=rest, fit=False)
        learner.history_ = [
            {**entry, "after_teach": point}
            for entry, point in zip(run["history"], run["curve"][1:],
                                    strict=True)
        ]
        # One fit per curve point; the last is repeated, with its seed.
        learner.num_fits_ = state["rounds_done"]
    return [run["curve"] for run in runs]


def _plain(value):
    """numpy scalars and arrays as JSON values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
