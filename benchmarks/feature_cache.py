"""Scoring a pool through a frozen `keras.applications` backbone, with and
without the frozen-feature cache.

Run (from the repository root):

    python -m benchmarks.feature_cache
    python -m benchmarks.feature_cache --backbone MobileNetV3Small \
        --pool 2000 --image-size 96 --rounds 3

The model is `bayesian_head` on a `keras.applications` backbone built
with `weights=None` (no download; the cost is the same as with ImageNet
weights). Every round scores the unlabelled pool with BALD, T =
`--mc-samples` (20):

- `whole model`: `MCSampler.top_n` on the images, the backbone run once
  per chunk and the head T times (what every round costs without a
  cache);
- `cached`: `ActiveLearner.query` on a `Pool`, which runs the backbone
  once per pool image (its first round) and afterwards only the head's T
  passes on the cached features.

Both are measured warm (each traced before it is timed), side by side in
one run; the table gives seconds per round (median over `--rounds`) and
the ratio. Write it somewhere with `--json`.
"""

import argparse
import json
import os
import platform
import time

import keras
import numpy as np

from benchmarks.gal2017 import device_label
from keras_dbal import ActiveLearner
from keras_dbal import Pool
from keras_dbal.acquisition import bald
from keras_dbal.models import bayesian_head


def build(backbone_name, image_size, num_classes, seed):
    keras.utils.set_random_seed(seed)
    backbone = getattr(keras.applications, backbone_name)(
        include_top=False, weights=None,
        input_shape=(image_size, image_size, 3),
    )
    model = bayesian_head(backbone, num_classes, dense_units=128,
                          input_scale=255.0, seed=seed)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def measure(args):
    rng = np.random.default_rng(0)
    size = args.image_size
    x = rng.uniform(size=(args.pool, size, size, 3)).astype("float32")
    y = rng.integers(0, 2, args.pool)
    model = build(args.backbone, size, 2, seed=0)
    learner = ActiveLearner(model, "bald", args.mc_samples, seed=0,
                            fit_kwargs={"epochs": 1, "batch_size": 16})
    pool = Pool(x, y)
    first = np.arange(20)
    learner.teach(pool, y[first], indices=first)
    sampler = learner.sampler

    def whole_model():
        sampler.top_n(pool.x, bald, args.batch,
                      indices=pool.unlabelled_indices, seed=0)

    whole_model()  # traced
    whole = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        whole_model()
        whole.append(time.perf_counter() - start)
    start = time.perf_counter()
    learner.query(pool, args.batch)  # traces, and fills the cache
    filling = time.perf_counter() - start
    cached = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        learner.query(pool, args.batch)
        cached.append(time.perf_counter() - start)
    return {
        "whole_model_s": float(np.median(whole)),
        "first_query_s": filling,
        "cached_s": float(np.median(cached)),
        "ratio": float(np.median(whole) / np.median(cached)),
        "parameters": int(model.count_params()),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="MobileNetV3Small",
                        help="a keras.applications model name")
    parser.add_argument("--pool", type=int, default=2000)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--mc-samples", type=int, default=20)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    if not hasattr(keras.applications, args.backbone):
        parser.error(f"keras.applications has no {args.backbone!r}")
    device, backend_name = device_label()
    result = measure(args)
    header = (
        f"{args.backbone} (weights=None) + bayesian_head, pool "
        f"{args.pool} of {args.image_size}x{args.image_size}x3, T = "
        f"{args.mc_samples}, BALD top {args.batch}, median of "
        f"{args.rounds} warm rounds; Keras {keras.__version__}, backend "
        f"{backend_name} on {device} ({platform.machine()}, "
        f"{os.cpu_count()} cores)"
    )
    print(header)
    print()
    print("| scoring | seconds per round | vs whole model |")
    print("|---|---:|---:|")
    print(f"| whole model (backbone every round) | "
          f"{result['whole_model_s']:.2f} | 1.00 |")
    print(f"| cached features (rounds after the first) | "
          f"{result['cached_s']:.2f} | {result['ratio']:.1f}x faster |")
    print(f"| first cached round (fills the cache) | "
          f"{result['first_query_s']:.2f} | |")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"header": header, "args": vars(args), **result},
                      file, indent=1)
    return result


if __name__ == "__main__":
    main()
