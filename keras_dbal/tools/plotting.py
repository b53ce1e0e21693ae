"""Learning curves as PNG files (matplotlib, headless)."""

import numpy as np

# What `plot_learning_curves` can plot: the summary's key, and the label.
METRICS = {
    "accuracy": ("error", "Test accuracy"),
    "balanced_accuracy": ("balanced_accuracy", "Test balanced accuracy"),
    "auc": ("auc", "Test ROC AUC"),
}


def plot_learning_curves(summary, path, *, title=None, metric="accuracy"):
    """A test metric against labelled images, one line per function.

    Like Figure 1 of Gal et al. (2017): the mean over seeds, with a band of
    one standard deviation when there are several.

    Args:
        summary: The output of `keras_dbal.experiments.summarize`.
        path: Where to write the PNG (a path or a binary file).
        title: Optional title.
        metric: One of `METRICS`: `"accuracy"`, `"balanced_accuracy"` or
            `"auc"` (for imbalanced tasks).
    """
    if metric not in METRICS:
        raise ValueError(
            "Invalid value received for argument `metric`: expected one of "
            f"{sorted(METRICS)}. Received: metric={metric!r}"
        )
    key, axis_label = METRICS[metric]
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(7, 4.5), dpi=120)
    seed_counts = {len(curve["seeds"]) for curve in summary.values()}
    for label, curve in summary.items():
        counts = np.asarray(curve["num_labelled"])
        accuracy = np.asarray(curve[f"{key}_mean"])
        if key == "error":
            accuracy = 1.0 - accuracy
        spread = np.asarray(curve[f"{key}_std"])
        style = "--" if "deterministic" in label or label == "random" else "-"
        line = axes.plot(counts, accuracy, style, label=label)[0]
        if len(curve["seeds"]) > 1:
            axes.fill_between(
                counts, accuracy - spread, accuracy + spread,
                color=line.get_color(), alpha=0.15,
            )
    axes.set_xlabel("Number of labelled images")
    axes.set_ylabel(axis_label)
    if all(np.isnan(curve[f"{key}_mean"]).all() for curve in summary.values()):
        axes.text(0.5, 0.5, f"{axis_label} is not defined here (the test "
                  "labels lack a class)", ha="center", transform=axes.transAxes)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", title=_legend_title(seed_counts))
    if title:
        axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, format="png")
    pyplot.close(figure)


def _legend_title(seed_counts):
    if seed_counts == {1}:
        return "one seed"
    counts = "/".join(str(count) for count in sorted(seed_counts))
    return f"mean of {counts} seeds, band ±1 sd"
