"""One round's fit for K runs: lockstep vs K sequential `model.fit` calls.

Run (from the repository root, any Keras backend keras_dbal supports):

    python -m benchmarks.engine                          # K = 8, 20 and 200
    KERAS_BACKEND=jax python -m benchmarks.engine --runs 8 --labels 20 200

Each case trains K Gal CNNs (the paper variant, weight decay 3.5 / N) for
`--epochs` epochs of batch `--batch-size` (the paper's 50 and 128) on N
labelled 28x28 images, each run on its own images and its own shuffle:

- `model.fit`: K sequential `model.fit` calls, as `ActiveLearner.fit`
  makes them (the labelled set as a shuffled `tf.data` pipeline under
  TensorFlow, arrays under JAX);
- `compiled`: K sequential `CompiledFit` calls, every epoch and batch of a
  fit in one compiled call;
- `lockstep`: one `LockstepFit` call for all K runs (`jax.vmap` under
  JAX; the K train steps side by side in one `tf.function` under
  TensorFlow).

Every case runs once to compile (not timed), then `--repeats` times; the
table shows the median seconds and each case's speed-up over `model.fit`
at the same K and N, measured in the same process. Timings are printed,
and written as JSON with `--json`; they are not assertions.
"""

import argparse
import json
import os
import platform
import statistics
import time

import keras
import numpy as np

from keras_dbal import backend
from keras_dbal import gal_cnn
from keras_dbal.active.compiled_fit import CompiledFit
from keras_dbal.active.compiled_fit import LockstepFit
from keras_dbal.active.compiled_fit import epoch_orders

METHODS = ("model.fit", "compiled", "lockstep")


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


def _case(method, models, xs, ys, orders, args):
    if method == "model.fit":
        def run():
            for index, model in enumerate(models):
                inputs = backend.fit_inputs(
                    xs[index], ys[index], args.batch_size, index
                )
                model.fit(**inputs, epochs=args.epochs, verbose=0)
    elif method == "compiled":
        fits = [CompiledFit(model, args.batch_size) for model in models]

        def run():
            for index, fit in enumerate(fits):
                fit(xs[index], ys[index], orders[index])
    else:
        fit = LockstepFit(models, args.batch_size)

        def run():
            fit(xs, ys, orders)
    run.models = models
    return run


def measure(args):
    rows = []
    rng = np.random.default_rng(0)
    for labels in args.labels:
        xs = rng.random((args.runs, labels, 28, 28, 1)).astype("float32")
        ys = rng.integers(0, 10, (args.runs, labels))
        orders = np.stack([
            epoch_orders(run, labels, args.epochs) for run in range(args.runs)
        ])
        baseline = None
        for method in args.methods:
            run = _case(method, _models(args.runs, labels), xs, ys, orders,
                        args)
            models = run.models
            run()  # compiles
            _finished(models)
            seconds = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                run()
                _finished(models)
                seconds.append(time.perf_counter() - start)
            median = statistics.median(seconds)
            if method == "model.fit":
                baseline = median
            rows.append({
                "method": method, "runs": args.runs, "labels": labels,
                "epochs": args.epochs, "batch_size": args.batch_size,
                "seconds": median,
                "speed_up": None if baseline is None else baseline / median,
            })
            print(_row(rows[-1]), flush=True)
    return rows


def _row(row):
    speed_up = "" if row["speed_up"] is None else f"{row['speed_up']:.2f}x"
    return (f"| {row['method']} | {row['runs']} | {row['labels']} | "
            f"{row['seconds']:.3f} | {speed_up} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--labels", type=int, nargs="+", default=[20, 200])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", nargs="+", default=list(METHODS),
                        choices=METHODS)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    print(f"Keras backend {backend.name()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs; {args.epochs} epochs of batch "
          f"{args.batch_size}, median of {args.repeats}")
    print("| method | K | labels | seconds | speed-up vs model.fit |")
    print("|---|---|---|---|---|")
    rows = measure(args)
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"backend": backend.name(), "rows": rows}, file,
                      indent=1)


if __name__ == "__main__":
    main()
