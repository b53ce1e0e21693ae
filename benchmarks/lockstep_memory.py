"""Memory of K active-learning runs held in lockstep, as K grows.

Run (from the repository root, any Keras backend keras_dbal supports):

    python -m benchmarks.lockstep_memory                 # K = 1, 4, 16
    KERAS_BACKEND=jax python -m benchmarks.lockstep_memory --runs 1 8 24

For each K, a fresh process builds K Bayesian `gal_cnn` learners on 28x28
images (a pool of `--pool` random images, shared by every run), fits the
K initial labelled sets together, runs one round (`simulate_together`,
the `--strategy` given) and reports its peak resident memory, and under
JAX on a GPU the device's peak bytes in use. Each process is fresh, so a
figure is that K's own peak. The growth per run is the slope between the
smallest and the largest K. Figures are printed, and written as JSON with
`--json`; they are not assertions.
"""

import argparse
import json
import os
import platform
import subprocess
import sys

WORKER = """
import json, resource, sys
import numpy as np
from keras_dbal import gal_cnn
from keras_dbal.active import ActiveLearner
from keras_dbal.active import Pool
from keras_dbal.experiments import simulate_together
runs, pool_size, labels, strategy, mc_samples, epochs = (
    int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4],
    int(sys.argv[5]), int(sys.argv[6]))
rng = np.random.default_rng(0)
x = rng.random((pool_size, 28, 28, 1), dtype="float32")
y = rng.integers(0, 10, pool_size)
learners, pools = [], []
for seed in range(runs):
    model = gal_cnn((28, 28, 1), seed=seed, weight_decay=3.5,
                    num_labelled=labels)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    learner = ActiveLearner(
        model, "bald", mc_samples, seed=seed, pool_subset=min(2000, pool_size),
        fit_kwargs={"epochs": epochs, "batch_size": 128, "verbose": 0})
    pool = Pool(x, y)
    learner.teach(pool, y[:labels], indices=np.arange(labels), fit=False)
    learners.append(learner)
    pools.append(pool)
simulate_together(learners, pools, 1, 10, x_test=x[:1000], y_test=y[:1000],
                  strategy=strategy, progress=False)
record = {"runs": runs,
          "peak_rss_mib": resource.getrusage(
              resource.RUSAGE_SELF).ru_maxrss / 1024}
try:
    import jax
    device = jax.devices()[0]
    if device.platform != "cpu":
        record["device_peak_mib"] = (
            device.memory_stats()["peak_bytes_in_use"] / 2**20)
except ImportError:
    pass
print(json.dumps(record))
"""


def measure(args):
    rows = []
    for runs in args.runs:
        result = subprocess.run(
            [sys.executable, "-c", WORKER, str(runs), str(args.pool),
             str(args.labels), args.strategy, str(args.mc_samples),
             str(args.epochs)],
            capture_output=True, text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        if result.returncode != 0:
            raise SystemExit(result.stderr[-3000:])
        rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
        device = rows[-1].get("device_peak_mib")
        print(f"| {runs} | {rows[-1]['peak_rss_mib']:,.0f} | "
              + ("-" if device is None else f"{device:,.0f}") + " |",
              flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--pool", type=int, default=8000)
    parser.add_argument("--labels", type=int, default=20)
    parser.add_argument("--mc-samples", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--strategy", default="auto")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    import keras

    print(f"Keras backend {keras.backend.backend()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs; pool {args.pool}, {args.labels} labels, "
          f"T = {args.mc_samples}, {args.epochs} epochs of batch 128, "
          f"strategy {args.strategy}")
    print("| K | peak resident MiB | peak device MiB |")
    print("|---:|---:|---:|")
    rows = measure(args)
    if len(rows) > 1:
        slope = (rows[-1]["peak_rss_mib"] - rows[0]["peak_rss_mib"]) / (
            rows[-1]["runs"] - rows[0]["runs"]
        )
        print(f"About {slope:,.0f} MiB of host memory per run.")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"args": vars(args), "rows": rows}, file, indent=1)


if __name__ == "__main__":
    main()
