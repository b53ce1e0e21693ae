"""The dip at 130 labels: a fit whose epochs end on a batch of a few images.

Run (from the repository root):

    python -m benchmarks.partial_batch --data ../shared/data/mnist_5k.npz

At the paper's batch of 128, a labelled set of 128 + r images trains on
one full batch and then a batch of r images every epoch (Keras's
`model.fit`, the authors' code and ours alike), so the last Adam step of
every epoch, the last of the fit included, comes from r images. This
benchmark fits the same nested labelled sets (the first N images of one
shuffle of the pool per seed) two ways, everything else the paper's
(Gal CNN, Adam, 50 epochs, weight decay 3.5 / N, from the same initial
weights per seed):

- `partial`: batches of 128, the last one smaller (the protocol);
- `equal`: the same number of batches, of equal size (N = 130 gives two
  batches of 65).

Columns: the test error (1,000 test images of the file, one pass with
dropout off, as the authors measured it; and MC-averaged over T = 20)
per labelled count and mode, mean and spread over seeds. Results are
written to `--out` (default `benchmarks/results/partial-batch-cpu-<backend>`)
after every seed; they are measurements, not assertions.
"""

import argparse
import json
import math
import os

import keras_dbal

# isort: split
import keras
import numpy as np

from keras_dbal.datasets import load_dataset
from keras_dbal.saving import replacing

COUNTS = (120, 127, 128, 129, 130, 131, 132, 134, 136, 140, 144)
MODES = ("partial", "equal")


def batch_size(mode, count):
    """The batch size of one mode at `count` labels (see the docstring)."""
    if mode == "partial":
        return 128
    return math.ceil(count / math.ceil(count / 128))


def fit_and_test(data, order, count, mode, seed, epochs=50):
    """Test errors of a Gal CNN fitted on the first `count` of `order`."""
    (x_pool, y_pool), (x_test, y_test) = data
    keras.utils.set_random_seed(seed)
    model = keras_dbal.gal_cnn(
        x_pool.shape[1:], seed=seed, weight_decay=3.5, num_labelled=count
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    learner = keras_dbal.ActiveLearner(
        model, mc_samples=20, seed=seed,
        fit_kwargs={"epochs": epochs,
                    "batch_size": batch_size(mode, count)},
    )
    chosen = order[:count]
    learner.teach(x_pool[chosen], y_pool[chosen])
    return {
        "error_without_dropout": learner.evaluate(
            x_test, y_test, dropout=False
        )["error"],
        "error": learner.evaluate(x_test, y_test)["error"],
    }


def table(rows):
    """A Markdown table: mean (spread) of each error per count and mode."""
    lines = [
        "| labels | last batch | partial: error, dropout off | equal: "
        "error, dropout off | partial: MC error | equal: MC error |",
        "|---:|---:|---|---|---|---|",
    ]
    for count in sorted({row["count"] for row in rows}):
        cells = []
        for key in ("error_without_dropout", "error"):
            for mode in MODES:
                values = [row[key] for row in rows
                          if row["count"] == count and row["mode"] == mode]
                cells.append(
                    f"{np.mean(values):.3f} ({np.std(values):.3f})"
                    if values else ""
                )
        last = count % 128 or 128
        lines.append(f"| {count} | {last} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, metavar="FILE.npz",
                        help="MNIST in the keys of Keras's mnist.npz")
    parser.add_argument("--seeds", type=int, nargs="+",
                        default=[0, 1, 2, 3, 4],
                        help="one nested labelled set per seed")
    parser.add_argument("--counts", type=int, nargs="+",
                        default=list(COUNTS))
    parser.add_argument("--epochs", type=int, default=50,
                        help="the paper's 50 (fewer only for a dry run)")
    parser.add_argument("--out", help="results folder")
    args = parser.parse_args(argv)
    data = load_dataset("mnist", path=args.data)
    out = args.out or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results",
        f"partial-batch-cpu-{keras.backend.backend()}",
    )
    os.makedirs(out, exist_ok=True)
    rows = []
    for seed in args.seeds:
        order = np.random.default_rng(seed).permutation(len(data[0][0]))
        for count in args.counts:
            for mode in MODES:
                if mode == "equal" and count <= 128:
                    continue  # one batch: the same fit
                errors = fit_and_test(data, order, count, mode, seed,
                                      args.epochs)
                rows.append({"seed": seed, "count": count, "mode": mode,
                             "batch_size": batch_size(mode, count),
                             **errors})
                if count <= 128:  # the control, once for both modes
                    rows.append({**rows[-1], "mode": "equal"})
                print(json.dumps(rows[-1]), flush=True)
        with replacing(os.path.join(out, "results.json")) as file:
            json.dump({"data": os.path.basename(args.data),
                       "backend": keras.backend.backend(), "rows": rows},
                      file, indent=1)
    print(table(rows))
    with replacing(os.path.join(out, "table.md")) as file:
        file.write(table(rows) + "\n")


if __name__ == "__main__":
    main()
