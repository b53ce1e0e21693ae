"""Repeated MNIST (Kirsch et al., 2019, Section 6): BatchBALD vs BALD.

Run (from the repository root):

    python -m benchmarks.repeated_mnist --data ../shared/data/mnist_5k.npz
    python -m benchmarks.repeated_mnist --data ... --unique 1000 --rounds 20

The pool is every training image repeated `--copies` times (3), each copy
with its own Gaussian noise (standard deviation `--noise`, 0.1, on pixels
scaled to [0, 1]). Top-n BALD then tends to acquire the copies of one
informative image together, which teach the model little more than one of
them; BatchBALD scores the batch jointly and should not. Kirsch et al.
found BALD doing worse than random here and BatchBALD better.

Every run starts from 20 balanced labels and acquires `--batch` (10)
images a round with each acquisition function and seed, retraining the
paper's Bayesian CNN from scratch (Adam, 50 epochs of batch 128, weight
decay 3.5 / N), with T = `--mc-samples` (100) MC dropout passes, scoring the
whole pool every round (no random subset: a subset would split the
copies). The runs advance in lockstep (`run_experiment`).

Results go to `benchmarks/results/repeated-mnist-<device>-<backend>/`:
`results.json` (every curve), `table.md` (labels needed to reach
`--target` test accuracy, 90 %, per seed and for the mean curve, and the
duplicates each function acquired) and `curves.png`. The first two are
rewritten after every round, and Ctrl-C keeps, tables and plots the
rounds that finished.
"""

import argparse
import json
import os
import platform
import time

import numpy as np

from benchmarks.gal2017 import device_label
from benchmarks.rounds import run_keeping_rounds
from benchmarks.rounds import write_files
from keras_dbal import experiments as experiment
from keras_dbal.batch_acquisition import BatchBALD
from keras_dbal.datasets import load_dataset

ACQUISITIONS = ("random", "bald", "batchbald", "power_bald")


def repeated_pool(x, y, copies, noise, seed):
    """`copies` noisy copies of every image, and which image each is."""
    rng = np.random.default_rng(seed)
    x_pool = np.concatenate([x] * copies)
    x_pool = x_pool + rng.normal(0.0, noise, x_pool.shape)
    original = np.tile(np.arange(len(x)), copies)
    return x_pool.astype("float32"), np.tile(y, copies), original


def duplicates(result, original, initial):
    """Acquired images that were copies of an image already labelled (at
    the start or in an earlier round) in the same run."""
    labelled = result["labelled"]
    seen = set(original[labelled[:initial]].tolist())
    count = 0
    for index in labelled[initial:]:
        image = int(original[index])
        count += image in seen
        seen.add(image)
    return count


def table(results, target, header):
    lines = [header, "",
             f"| acquisition | labels to {target:.0%} accuracy, per seed | "
             "mean curve | final accuracy | duplicates acquired |",
             "|---|---|---:|---:|---:|"]
    summary = experiment.summarize(results)
    for label, curve in summary.items():
        runs = [r for r in results if r["acquisition"] == label]
        per_seed = [
            experiment.labels_to_reach(
                r["num_labelled"], r["error"], 1 - target
            ) for r in runs
        ]
        mean = experiment.labels_to_reach(
            curve["num_labelled"], curve["error_mean"], 1 - target
        )
        final = [1 - r["error"][-1] for r in runs]
        lines.append(
            f"| {label} | {', '.join(str(v) if v else '-' for v in per_seed)}"
            f" | {mean or '-'} | {np.mean(final):.3f} ± {np.std(final):.3f}"
            f" | {', '.join(str(r['duplicates']) for r in runs)} |"
        )
    return "\n".join(lines) + "\n"


def plot(results, path, target):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(7, 4.5), dpi=100)
    for label, curve in experiment.summarize(results).items():
        counts = np.asarray(curve["num_labelled"])
        accuracy = 1 - np.asarray(curve["error_mean"])
        spread = np.asarray(curve["error_std"])
        axes.plot(counts, accuracy, label=label)
        axes.fill_between(counts, accuracy - spread, accuracy + spread,
                          alpha=0.15)
    axes.axhline(target, color="grey", linestyle=":", linewidth=1)
    axes.set_xlabel("Number of labelled images")
    axes.set_ylabel("Test accuracy")
    axes.set_title("Repeated MNIST: BatchBALD vs BALD")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True,
                        help="local .npz with the keys of Keras's mnist.npz")
    parser.add_argument("--unique", type=int,
                        help="use only N training images (a seeded random "
                        "subset)")
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--acquisitions", nargs="+",
                        default=list(ACQUISITIONS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--mc-samples", type=int, default=100,
                        help="T (default 100: a batch's joint information "
                        "cannot pass log T)")
    parser.add_argument("--candidates", type=int, default=1000,
                        help="BatchBALD's BALD pre-filter")
    parser.add_argument("--configurations", type=int, default=10_000,
                        help="BatchBALD's M")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--target", type=float, default=0.90)
    parser.add_argument("--out", help="results root (default: "
                        "benchmarks/results)")
    args = parser.parse_args(argv)

    (x_train, y_train), test = load_dataset("file", path=args.data)
    if args.unique:
        # A seeded random subset: a data file may be sorted by class.
        keep = np.sort(
            np.random.default_rng(0).permutation(len(x_train))[:args.unique]
        )
        x_train, y_train = x_train[keep], y_train[keep]
    x_pool, y_pool, original = repeated_pool(
        x_train, y_train, args.copies, args.noise, seed=0
    )
    acquisitions = tuple(
        BatchBALD(args.candidates, args.configurations)
        if name == "batchbald" else name for name in args.acquisitions
    )
    config = experiment.ExperimentConfig(
        acquisitions=acquisitions, seeds=tuple(args.seeds),
        rounds=args.rounds, query_size=args.batch, mc_samples=args.mc_samples,
        epochs=args.epochs, batch_size=128, pool_subset=len(x_pool),
        # The noise is not clipped: copies go a little outside [0, 1].
        input_range=None,
    )
    device, backend_name = device_label()
    out_root = args.out or os.path.join(os.path.dirname(__file__), "results")
    out = os.path.join(out_root, f"repeated-mnist-{device}-{backend_name}")
    os.makedirs(out, exist_ok=True)
    print(f"Repeated MNIST: {len(x_train)} images x {args.copies} copies = "
          f"{len(x_pool)} pool, {len(test[0])} test; results go to {out}",
          flush=True)
    start = time.perf_counter()
    initial = config.initial_per_class * len(np.unique(y_train))

    def write(results):
        seconds = time.perf_counter() - start
        for result in results:
            result["duplicates"] = duplicates(result, original, initial)
        rounds_done = len(results[0]["num_labelled"]) - 1
        header = (
            f"Repeated MNIST from {os.path.basename(args.data)}: "
            f"{len(x_train)} images x {args.copies} copies (noise "
            f"{args.noise}), {len(test[0])} test images, seeds "
            f"{args.seeds}, {rounds_done} of {args.rounds} rounds of "
            f"{args.batch}, T = {args.mc_samples}, {args.epochs} epochs, "
            f"BatchBALD with {args.candidates} candidates and M = "
            f"{args.configurations}; "
            f"Keras backend {backend_name} on {device} "
            f"({platform.machine()}, {os.cpu_count()} cores), "
            f"{seconds / 60:.1f} minutes."
        )
        write_files(out, (
            ("table.md", table(results, args.target, header)),
            ("results.json", json.dumps(
                {"args": vars(args), "seconds": seconds, "runs": results},
                indent=1)),
        ))

    results = run_keeping_rounds(((x_pool, y_pool), test), config,
                                        write)
    plot(results, os.path.join(out, "curves.png"), args.target)
    with open(os.path.join(out, "table.md")) as file:
        print(file.read())


if __name__ == "__main__":
    main()
