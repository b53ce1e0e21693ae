"""What the experiment benchmarks share: files rewritten after every round,
and a Ctrl-C that keeps the rounds that finished."""

import os

from keras_dbal import experiments as experiment
from keras_dbal.saving import replacing


def write_files(out, texts):
    """Write each `(file name, text)` into `out`, each replaced whole: a
    run killed mid-write leaves the previous round's file."""
    for name, text in texts:
        with replacing(os.path.join(out, name)) as file:
            file.write(text)


def run_keeping_rounds(data, config, write, **kwargs):
    """`run_experiment`, with `write(results)` after every round and once
    at the end. Stopped by Ctrl-C (or a time limit's SIGINT), it returns
    the rounds that finished; before any, it raises.

    Args:
        data: As for `run_experiment`.
        config: An `ExperimentConfig`.
        write: Function of the results so far; if it returns True, the
            experiment stops after that round.
        **kwargs: Passed to `run_experiment` (`progress`, `strategy`).
    """
    latest = []

    def save(results):
        latest[:] = results
        return write(results)

    try:
        results = experiment.run_experiment(
            data, config, on_result=save, **kwargs
        )
    except KeyboardInterrupt:
        if not latest:
            raise
        results = list(latest)
        print(f"\nStopped after {len(results[0]['num_labelled']) - 1} "
              "rounds; the tables below cover those.")
    write(results)
    return results
