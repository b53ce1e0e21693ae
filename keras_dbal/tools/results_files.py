"""The files `keras-dbal run` writes: results.json, results.csv and
learning_curve.png, each replaced whole after every round."""

import csv
import json
import math
import os
import tempfile

from keras_dbal import backend
from keras_dbal import experiments
from keras_dbal.saving.atomic import replacing
from keras_dbal.tools import plotting

__all__ = ["check_writable", "write"]


def check_writable(folder):
    """Fail before hours of compute, not after them."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ValueError(
            f"Cannot write results into --out {folder}: "
            f"{error.strerror or error}."
        ) from None


def write(folder, name, config, results, metric="accuracy"):
    """results.json, results.csv and the plot of the rounds run so far.

    Each file is replaced whole, so a crash leaves the previous version.
    """
    summary = experiments.summarize(results)
    planned = len(config.runs()) * len(config.seeds)
    record = {
        "dataset": name,
        "backend": backend.name(),
        "config": vars(config),
        "complete": len(results) == planned and all(
            len(result["num_labelled"]) == config.rounds + 1
            for result in results
        ),
        "runs": results,
        "summary": summary,
    }
    with replacing(os.path.join(folder, "results.json")) as file:
        # NaN (an AUC the test labels cannot define) as null: valid JSON.
        json.dump(_null_for_nan(record), file, indent=1)
    with replacing(os.path.join(folder, "results.csv")) as file:
        writer = csv.writer(file)
        writer.writerow(
            ["acquisition", "bayesian", "seed", "num_labelled", "accuracy",
             "balanced_accuracy", "auc", "model"]
        )
        for result in results:
            for count, *values in zip(
                result["num_labelled"], result["accuracy"],
                result["balanced_accuracy"], result["auc"], strict=True
            ):
                writer.writerow(
                    [result["acquisition"], result["bayesian"],
                     result["seed"], count]
                    + [f"{value:.4f}" for value in values]
                    + [result["model"]]
                )
    title = f"{name}: {config.query_size} acquired per round"
    if not record["complete"]:
        done = min(len(result["num_labelled"]) for result in results) - 1
        title += f" ({done} of {config.rounds} rounds so far)"
    with replacing(os.path.join(folder, "learning_curve.png"), "wb") as file:
        plotting.plot_learning_curves(
            summary, file, title=title, metric=metric
        )


def _null_for_nan(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _null_for_nan(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_null_for_nan(item) for item in value]
    return value
