"""A whole experiment against its FLOP floor, each part measured in one run.

Run (from the repository root, on an otherwise idle machine):

    python -m benchmarks.floor --data ../shared/data/mnist_5k.npz \
        --preset quick --rounds 4 --json benchmarks/results/floor.json

It runs a `benchmarks.gal2017` preset (`--rounds` fewer to save time) and
times its three parts where the experiment spends them: the fits
(`keras_dbal.training.fit_together`), the queries (`ActiveLearner.query`:
scoring the pool subset) and the evaluations (`ActiveLearner.predict` and
`predict_both_ways`: the MC prediction of the test set and its
dropout-off pass). Beside each
part it prints the part's FLOP count, counted from the model's layers, and
the time that count would take at two rates measured in the same process,
warm, just before the experiment:

- the machine's GEMM rate: a 2048 x 2048 float32 `keras.ops.matmul`, the
  floor no convolution lowering can beat;
- Keras's own rate on large batches: `model.fit` of the Gal CNN on 2,048
  images in batches of 128, and `model.predict` of 2,048 images, which is
  what the CNN's kernels reach when nothing else is in the way.

FLOPs: a convolution `2 * H_out * W_out * k_h * k_w * C_in * C_out` per
image, a dense layer `2 * inputs * units`; pooling, activations and
dropout are left out (a few percent). Training is 3x the forward pass
(the backward pass computes gradients for inputs and weights). The MC
passes run the deterministic prefix (the convolutions, before the first
`MCDropout`) once per image and only the rest T times, as the sampler
does, and a test image's dropout-off pass needs only one more pass of the
rest: the floor counts the least work each part needs, whether or not the
code does it so. Tracing, Python and data movement are in the measured
times and in no FLOP count: they are part of what stands between a run
and its floor.
"""

import argparse
import json
import os
import platform
import statistics
import time

import keras
import numpy as np

from benchmarks import gal2017
from keras_dbal import ActiveLearner
from keras_dbal import experiments
from keras_dbal import gal_cnn
from keras_dbal import training
from keras_dbal.datasets import load_dataset
from keras_dbal.layers import MCDropout

PARTS = ("fit", "query", "evaluate")


def layer_flops(model):
    """`(forward FLOPs per image of each layer, index of the first
    MCDropout or None)`, in the model's layer order."""
    flops, first_dropout = [], None
    for index, layer in enumerate(model.layers):
        if isinstance(layer, MCDropout) and first_dropout is None:
            first_dropout = index
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, channels_out = layer.output.shape
            k_h, k_w, channels_in, _ = layer.kernel.shape
            flops.append(
                2 * height * width * k_h * k_w * channels_in * channels_out
            )
        elif isinstance(layer, keras.layers.Dense):
            inputs, units = layer.kernel.shape
            flops.append(2 * inputs * units)
        else:
            flops.append(0)
    return flops, first_dropout


def experiment_flops(config, item_shape, num_classes, pool_size, test_size,
                     rounds):
    """FLOPs of each part of `rounds` rounds of `config`, as a dict."""
    counts = dict.fromkeys(PARTS, 0.0)
    initial = config.initial_per_class * num_classes
    for model_kind in [kind for _, kind in config.runs()]:
        model = gal_cnn(item_shape, num_classes,
                        bayesian=model_kind == "bayesian",
                        variant=config.variant)
        flops, cut = layer_flops(model)
        forward = float(sum(flops))
        if model_kind == "bayesian":
            mc = sum(flops[:cut]) + config.mc_samples * sum(flops[cut:])
            # The MC prediction and the dropout-off pass share the prefix:
            # one more pass of the rest is all the second needs.
            tests = mc + sum(flops[cut:])
        else:
            mc = tests = forward
        runs = len(config.seeds)
        for done in range(rounds + 1):
            labels = initial + done * config.query_size
            counts["fit"] += runs * 3 * forward * labels * config.epochs
            counts["evaluate"] += runs * tests * test_size
            if done:
                scored = min(config.pool_subset, pool_size - labels)
                counts["query"] += runs * mc * scored
    return counts


def gemm_rate(size=2048, repeats=10):
    """FLOP/s of a float32 `size` x `size` matmul, warm, median."""
    a = keras.ops.convert_to_tensor(
        np.random.default_rng(0).normal(size=(size, size)).astype("float32")
    )
    keras.ops.convert_to_numpy(keras.ops.matmul(a, a))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.matmul(a, a))
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times)


def keras_rates(item_shape, num_classes, images=2048, batch_size=128):
    """Keras's own FLOP/s training and predicting the Gal CNN on large
    batches, warm: `(train, predict)`."""
    rng = np.random.default_rng(0)
    x = rng.random((images,) + item_shape, dtype="float32")
    y = rng.integers(0, num_classes, images)
    model = gal_cnn(item_shape, num_classes, seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    forward = float(sum(layer_flops(model)[0]))
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=3, verbose=0)
    train = 3 * forward * images * 3 / (time.perf_counter() - start)
    model.predict(x, batch_size=1000, verbose=0)
    start = time.perf_counter()
    model.predict(x, batch_size=1000, verbose=0)
    predict = forward * images / (time.perf_counter() - start)
    return train, predict


class PartTimer:
    """Seconds spent in each part of an experiment, by wrapping the three
    public functions the experiment calls for them."""

    def __init__(self):
        self.seconds = dict.fromkeys(PARTS, 0.0)
        self._undo = []

    def __enter__(self):
        self._wrap(training, "fit_together", "fit")
        self._wrap(ActiveLearner, "query", "query")
        # What the experiment's evaluation calls (its metrics, a few
        # milliseconds, are left out).
        self._wrap(ActiveLearner, "predict_both_ways", "evaluate")
        self._wrap(ActiveLearner, "predict", "evaluate")
        return self

    def __exit__(self, *exc_info):
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)

    def _wrap(self, owner, name, part):
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[part] += time.perf_counter() - start

        setattr(owner, name, timed)
        self._undo.append((owner, name, original))


def run(preset, data_path, rounds):
    """Measure one preset's experiment beside its floors; returns a dict."""
    settings = dict(gal2017.PRESETS[preset]["config"])
    if rounds is not None:
        settings["rounds"] = rounds
    config = experiments.ExperimentConfig(**settings)
    dataset = gal2017.PRESETS[preset]["dataset"]
    data = load_dataset(dataset or "file", path=data_path)
    (x_train, y_train), (x_test, _) = data
    item_shape = x_train.shape[1:]
    num_classes = int(y_train.max()) + 1
    gemm = gemm_rate()
    keras_train, keras_predict = keras_rates(item_shape, num_classes)
    flops = experiment_flops(config, item_shape, num_classes, len(x_train),
                             len(x_test), config.rounds)
    start = time.perf_counter()
    with PartTimer() as timer:
        experiments.run_experiment(data, config, progress=False,
                                   log=lambda *_: None)
    total = time.perf_counter() - start
    rows = []
    for part in PARTS + ("total",):
        seconds = total if part == "total" else timer.seconds[part]
        count = sum(flops.values()) if part == "total" else flops[part]
        keras_rate = keras_train if part == "fit" else keras_predict
        if part == "total":
            keras_seconds = (flops["fit"] / keras_train
                             + (count - flops["fit"]) / keras_predict)
        else:
            keras_seconds = count / keras_rate
        rows.append({
            "part": part, "gflop": count / 1e9, "seconds": seconds,
            "gflop_per_s": count / 1e9 / seconds,
            "gemm_floor_seconds": count / gemm,
            "times_gemm_floor": seconds * gemm / count,
            "keras_large_batch_seconds": keras_seconds,
            "times_keras_large_batch": seconds / keras_seconds,
        })
    return {
        "preset": preset, "rounds": config.rounds,
        "data": os.path.basename(data_path) if data_path else dataset,
        "backend": keras.backend.backend(), "machine": platform.machine(),
        "cores": os.cpu_count(),
        "gemm_gflop_per_s": gemm / 1e9,
        "keras_train_gflop_per_s": keras_train / 1e9,
        "keras_predict_gflop_per_s": keras_predict / 1e9,
        "rows": rows,
    }


def markdown(record):
    lines = [
        f"{record['preset']} preset, {record['rounds']} rounds, on "
        f"{record['data']}; Keras backend {record['backend']}, "
        f"{record['machine']}, {record['cores']} cores. Rates measured "
        f"in the same run: GEMM {record['gemm_gflop_per_s']:.0f} GFLOP/s, "
        f"Keras large-batch training "
        f"{record['keras_train_gflop_per_s']:.0f} GFLOP/s and prediction "
        f"{record['keras_predict_gflop_per_s']:.0f} GFLOP/s.",
        "",
        "| part | GFLOP | measured s | GFLOP/s | GEMM floor s | x floor "
        "| at Keras large-batch rate s | x Keras |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in record["rows"]:
        lines.append(
            f"| {row['part']} | {row['gflop']:.4g} | {row['seconds']:.1f} | "
            f"{row['gflop_per_s']:.1f} | {row['gemm_floor_seconds']:.1f} | "
            f"{row['times_gemm_floor']:.2f} | "
            f"{row['keras_large_batch_seconds']:.1f} | "
            f"{row['times_keras_large_batch']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(gal2017.PRESETS),
                        default="quick",
                        help="the gal2017 preset to run (default: quick)")
    parser.add_argument("--data", metavar="FILE.npz",
                        help="local .npz with the keys of Keras's mnist.npz "
                        "(the quick and table1 presets need one)")
    parser.add_argument("--rounds", type=int, metavar="N",
                        help="run N rounds, not the preset's")
    parser.add_argument("--json", metavar="FILE",
                        help="also write the record as JSON")
    parser.add_argument("--rates-only", action="store_true",
                        help="measure only the GEMM and Keras rates (to "
                        "compare backends and settings, one process each)")
    args = parser.parse_args(argv)
    if args.rates_only:
        gemm = gemm_rate()
        train, predict = keras_rates((28, 28, 1), 10)
        print(f"{keras.backend.backend()}: GEMM {gemm / 1e9:.0f} GFLOP/s, "
              f"Keras large-batch training {train / 1e9:.0f} GFLOP/s, "
              f"prediction {predict / 1e9:.0f} GFLOP/s")
        return
    if gal2017.PRESETS[args.preset]["dataset"] is None and not args.data:
        parser.error(f"--preset {args.preset} needs --data")
    record = run(args.preset, args.data, args.rounds)
    print(markdown(record), end="")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(record, file, indent=1)


if __name__ == "__main__":
    main()
