"""One round's fit for K runs: each registered training strategy against
K sequential `model.fit` calls.

Run (from the repository root, any Keras backend keras_dbal supports):

    python -m benchmarks.engine                          # K = 8, 20 and 200
    KERAS_BACKEND=jax python -m benchmarks.engine --runs 8 --labels 20 200

Each case trains K Gal CNNs (the paper variant, weight decay 3.5 / N) for
`--epochs` epochs of batch `--batch-size` (the paper's 50 and 128) on N
labelled 28x28 images, each run on its own images and its own shuffle, by
one strategy of `keras_dbal.training.STRATEGIES` (every registered one by
default; `--methods` picks some):

- `sequential`: K `model.fit` calls, as `ActiveLearner.fit` makes them
  (the baseline of every speed-up);
- `compiled`: each fit in compiled code, one run after another;
- `lockstep`: the K fits side by side;
- and any strategy registered since, with no change here.

Every case runs once cold (`first`: tracing and compiling included),
then `--repeats` times warm; the table shows the first call's seconds, the
median warm seconds, and each case's warm and first-call speed-up over
`sequential` at the same K and N, measured in the same process. In an
experiment the labelled count grows every round, so every round pays the
first-call cost. Timings are printed, and written as JSON with `--json`;
they are not assertions.
"""

import argparse
import json
import os
import platform
import statistics
import time

import keras
import numpy as np

from keras_dbal import gal_cnn
from keras_dbal import training

BASELINE = "sequential"


def _models(runs, labels):
    models = []
    for run in range(runs):
        keras.utils.set_random_seed(run)
        model = gal_cnn((28, 28, 1), seed=run, weight_decay=3.5,
                        num_labelled=labels)
        model.compile(optimizer="adam",
                      loss="sparse_categorical_crossentropy")
        models.append(model)
    return models


def _finished(models):
    """Wait for the models' weights: JAX returns before it computes."""
    for model in models:
        keras.ops.convert_to_numpy(model.trainable_variables[-1])


def fit_case(method, xs, ys, args):
    """`(run, models)`: K new models, and a function that fits them all by
    the registered strategy `method`, each run on its seed's epoch orders
    (as `keras_dbal.training.fit_together` calls it)."""
    models = _models(len(xs), len(xs[0]))
    strategy = training.STRATEGIES[method]
    seeds = list(range(len(xs)))
    kwargs = [
        {"epochs": args.epochs, "batch_size": args.batch_size, "verbose": 0}
    ] * len(xs)

    def run():
        strategy.fit(models, list(xs), list(ys), seeds, kwargs)

    return run, models


def measure(args):
    rows = []
    rng = np.random.default_rng(0)
    for labels in args.labels:
        xs = rng.random((args.runs, labels, 28, 28, 1)).astype("float32")
        ys = rng.integers(0, 10, (args.runs, labels))
        baseline = None
        for method in [BASELINE] + [
            name for name in args.methods if name != BASELINE
        ]:
            run, models = fit_case(method, xs, ys, args)
            start = time.perf_counter()
            run()  # compiles
            _finished(models)
            first = time.perf_counter() - start
            seconds = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                run()
                _finished(models)
                seconds.append(time.perf_counter() - start)
            median = statistics.median(seconds)
            if method == BASELINE:
                baseline = (median, first)
            rows.append({
                "method": method, "runs": args.runs, "labels": labels,
                "epochs": args.epochs, "batch_size": args.batch_size,
                "seconds": median, "first_seconds": first,
                "speed_up": None if baseline is None else baseline[0] / median,
                "first_speed_up": (
                    None if baseline is None else baseline[1] / first
                ),
            })
            print(_row(rows[-1]), flush=True)
    return rows


def _row(row):
    speed_ups = [
        "" if row[key] is None else f"{row[key]:.2f}x"
        for key in ("speed_up", "first_speed_up")
    ]
    return (f"| {row['method']} | {row['runs']} | {row['labels']} | "
            f"{row['seconds']:.3f} | {row['first_seconds']:.3f} | "
            f"{speed_ups[0]} | {speed_ups[1]} |")


def best_strategy(rows):
    """The engine strategy whose first calls took least time in total.

    Every round of an experiment fits on a new labelled count, so it pays
    the first call (tracing and compiling included), not the warm one.
    """
    totals = {}
    for row in rows:
        totals[row["method"]] = (
            totals.get(row["method"], 0.0) + row["first_seconds"]
        )
    return min(totals, key=totals.get)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--labels", type=int, nargs="+", default=[20, 200])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", nargs="+",
                        default=list(training.STRATEGIES),
                        choices=list(training.STRATEGIES),
                        help="registered strategies to time (sequential, "
                        "the baseline, always runs)")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--best", metavar="FILE", help="print the fastest "
                        "strategy of a --json file and exit")
    args = parser.parse_args(argv)
    if args.best:
        with open(args.best) as file:
            best = best_strategy(json.load(file)["rows"])
        if best not in training.STRATEGIES:
            raise SystemExit(f"{args.best}: {best!r} is no registered "
                             f"strategy ({', '.join(training.STRATEGIES)})")
        print(best)
        return
    print(f"Keras backend {keras.backend.backend()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs; {args.epochs} epochs of batch "
          f"{args.batch_size}, median of {args.repeats}")
    print("| method | K | labels | warm seconds | first call seconds | "
          "warm speed-up vs sequential | first-call speed-up |")
    print("|---|---|---|---|---|---|---|")
    rows = measure(args)
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"backend": keras.backend.backend(), "rows": rows}, file,
                      indent=1)


if __name__ == "__main__":
    main()
