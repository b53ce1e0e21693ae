"""Learning curves of simulated experiments: averages and thresholds."""

import numpy as np

__all__ = ["METRICS", "curve_name", "labels_to_reach", "summarize"]

# The per-round test metrics a curve can carry, each averaged by
# `summarize`: the errors of Gal et al. (2017), and for imbalanced tasks
# balanced accuracy and ROC AUC (`ActiveLearner.evaluate`).
METRICS = ("error", "error_without_dropout", "balanced_accuracy", "auc")


def curve_name(name, model_kind):
    """How `summarize`, results and plots name a curve: `bald`,
    `bald (ensemble)`.

    Args:
        name: The acquisition's name.
        model_kind: `"bayesian"`, `"deterministic"` or `"ensemble"`.
    """
    return name if model_kind == "bayesian" else f"{name} ({model_kind})"


def labels_to_reach(num_labelled, error, target):
    """The fewest labels after which the test error is at most `target`.

    Args:
        num_labelled: The curve's labelled counts.
        error: The test error at each count.
        target: The test error to reach.

    Returns:
        The count, or None when the curve never gets there.
    """
    for count, value in zip(num_labelled, error, strict=True):
        if value <= target:
            return int(count)
    return None


def summarize(results):
    """Mean and standard deviation of the curves of each (name, model).

    Args:
        results: The list `run_experiment` returns.

    Returns:
        A dict keyed by display label with `num_labelled`, `seeds`, and
        `<metric>_mean` and `<metric>_std` for each of `METRICS` the
        results carry.
    """
    grouped = {}
    for result in results:
        # Results saved before `model` existed say only `bayesian`.
        model = result.get("model") or (
            "bayesian" if result["bayesian"] else "deterministic"
        )
        key = curve_name(result["acquisition"], model)
        grouped.setdefault(key, []).append(result)
    summary = {}
    for key, group in grouped.items():
        summary[key] = {"num_labelled": group[0]["num_labelled"]}
        for metric in METRICS:
            if not all(metric in result for result in group):
                continue
            values = np.array([result[metric] for result in group])
            summary[key][f"{metric}_mean"] = values.mean(axis=0).tolist()
            summary[key][f"{metric}_std"] = values.std(axis=0).tolist()
        summary[key]["seeds"] = [result["seed"] for result in group]
    return summary
