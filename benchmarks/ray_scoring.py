"""Pool scoring throughput: in one process against Ray Data with 1 and 2
actors, in one run.

Run (from the repository root; needs `pip install "keras-dbal[ray]"`):

    python -m benchmarks.ray_scoring --data ../shared/data/mnist_10k.npz \
        --pool 100000

The pool is the file's training images tiled to `--pool` images (the cost
of scoring does not depend on the pixels); the model is the Gal CNN on
28x28 images, BALD with T = `--mc-samples` (20), the top 10 chosen. Each
way is timed on the whole job a user runs:

- `in process`: `MCSampler.top_n` on the array, traced first on a small
  pool, so the time is warm;
- `ray, k actors`: `top_n_on_ray` on `pool_dataset(images)` with k actors
  on a local cluster of this machine's cores, from the call to the
  result: the actors' start (importing the backend, loading the model,
  tracing) included, which a pool pays once per scoring.

The three ways must choose the same images (checked). The table gives
seconds and images per second; write it somewhere with `--json`.
"""

import argparse
import json
import logging
import platform
import time

import keras
import numpy as np

import keras_dbal
from benchmarks.gal2017 import device_label
from keras_dbal.acquisition import bald
from keras_dbal.datasets import load_dataset
from keras_dbal.sampling import MCSampler

N = 10


def measure(args):
    import ray

    from keras_dbal.distributed import pool_dataset
    from keras_dbal.distributed import top_n_on_ray

    (x, _), _ = load_dataset("mnist", path=args.data)
    repeats = -(-args.pool // len(x))
    pool = np.concatenate([x] * repeats)[:args.pool]
    keras.utils.set_random_seed(0)
    model = keras_dbal.gal_cnn(pool.shape[1:], seed=0)
    sampler = MCSampler(model, args.mc_samples, seed=args.seed)
    sampler.top_n(pool[:2048], bald, N)  # traced
    rows = []
    start = time.perf_counter()
    best, _ = sampler.top_n(pool, bald, N)
    rows.append(("in process", time.perf_counter() - start))
    ray.init(num_cpus=args.cpus, include_dashboard=False,
             logging_level=logging.ERROR)
    try:
        dataset = pool_dataset(pool).materialize()
        for workers in (1, 2):
            start = time.perf_counter()
            chosen, _ = top_n_on_ray(
                dataset, model, "bald", N, mc_samples=args.mc_samples,
                seed=args.seed, workers=workers,
                batch_size=args.batch_size,
            )
            rows.append((f"ray, {workers} actor{'s' * (workers > 1)}",
                         time.perf_counter() - start))
            if not np.array_equal(chosen, best):
                raise AssertionError(f"{workers} actors chose other images")
    finally:
        ray.shutdown()
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, metavar="FILE.npz",
                        help="an mnist.npz-style file, e.g. "
                        "../shared/data/mnist_10k.npz")
    parser.add_argument("--pool", type=int, default=100_000,
                        help="pool images (default: 100000)")
    parser.add_argument("--mc-samples", type=int, default=20,
                        help="T (default: 20)")
    parser.add_argument("--batch-size", type=int, default=4096,
                        help="images per actor batch (default: 4096)")
    parser.add_argument("--cpus", type=int, default=2,
                        help="CPUs of the local Ray cluster (default: 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="FILE",
                        help="also write the results here")
    args = parser.parse_args(argv)
    rows = measure(args)
    baseline = rows[0][1]
    print(f"Scoring {args.pool} images (BALD, T = {args.mc_samples}, top "
          f"{N}), {device_label()[0]}, Keras backend "
          f"{keras.backend.backend()}:")
    print("| way | seconds | images / s | vs in process |")
    print("|---|---:|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.1f} | {args.pool / seconds:.0f} | "
              f"{baseline / seconds:.2f}x |")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({
                "pool": args.pool, "mc_samples": args.mc_samples,
                "batch_size": args.batch_size, "cpus": args.cpus,
                "machine": platform.machine(), "device": device_label()[0],
                "backend": keras.backend.backend(),
                "seconds": dict(rows),
            }, file, indent=2)


if __name__ == "__main__":
    main()
