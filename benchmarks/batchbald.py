"""BatchBALD's cost per acquisition against BALD's, in the same run.

Run (from the repository root, any Keras backend keras_dbal supports):

    python -m benchmarks.batchbald                       # pools 2,000, 20,000
    python -m benchmarks.batchbald --pools 2000 --repeats 1 --json out.json

Each case acquires one batch of `--batch` images (b = 10) from a pool of
random 28x28 images with the paper's Bayesian CNN (random weights: the
cost depends on shapes, not on what the images show), T = `--mc-samples`
(20) passes per image:

- `bald`: top-b BALD, the paper's acquisition (the baseline);
- `power_bald`: b images drawn from the BALD scores (one scoring pass);
- `batchbald`: BALD pre-selects `--candidates` images, which are sampled
  again with consistent masks, then the greedy joint selection with
  `--configurations` label configurations.

Every case runs once cold (tracing included), then `--repeats` times warm;
the table shows the median warm seconds, their ratio to `bald` on the same
pool, and the resident memory a warm call added at its peak (CPU; device
bytes at peak on a JAX GPU). BatchBALD's own memory is bounded by a chunk
of candidates x M x C, so its peak should not grow with the pool: the
pool is scored chunk by chunk and only the candidates are kept. Timings
are printed, and written as JSON with `--json`; they are not assertions.
"""

import argparse
import json
import statistics
import time

import keras
import numpy as np

from benchmarks.sampler import _PeakMemory
from benchmarks.sampler import describe_machine
from benchmarks.sampler import make_pool
from keras_dbal import MCSampler
from keras_dbal import acquisition
from keras_dbal import gal_cnn
from keras_dbal.batch_acquisition import BatchBALD
from keras_dbal.batch_acquisition import StochasticBatch

METHODS = ("bald", "power_bald", "batchbald")


def _acquisition(method, args):
    if method == "bald":
        return acquisition.bald
    if method == "power_bald":
        return StochasticBatch("bald", "power")
    return BatchBALD(
        num_candidates=args.candidates,
        num_configurations=args.configurations,
    )


def run_case(method, sampler, pool, args):
    chooser = _acquisition(method, args)

    def query(seed):
        # As the learner queries an array pool, through the public API.
        if callable(getattr(chooser, "select", None)):
            return chooser.select(
                sampler, pool, np.arange(len(pool)), args.batch,
                exclude=None, seed=seed, verbose=0,
            )
        return sampler.top_n(pool, chooser, args.batch, seed=seed)

    start = time.perf_counter()
    query(0)
    first = time.perf_counter() - start
    seconds = []
    with _PeakMemory() as memory:
        for repeat in range(args.repeats):
            start = time.perf_counter()
            query(repeat + 1)
            seconds.append(time.perf_counter() - start)
    return {
        "method": method,
        "pool": len(pool),
        "first_seconds": first,
        "warm_seconds": statistics.median(seconds),
        "peak_mib": memory.mebibytes,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--mc-samples", type=int, default=20)
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--configurations", type=int, default=10_000)
    parser.add_argument("--methods", nargs="+", default=list(METHODS),
                        choices=METHODS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)

    machine = describe_machine()
    print(
        f"Keras backend {machine['backend']}, {machine['device']}, "
        f"{machine['cpu']}; b = {args.batch}, T = {args.mc_samples}, "
        f"{args.candidates} candidates, M = {args.configurations}, "
        f"median of {args.repeats}",
        flush=True,
    )
    print("| method | pool | first call s | warm s | vs bald | "
          "peak memory added MiB |")
    print("|---|---:|---:|---:|---:|---:|", flush=True)
    keras.utils.set_random_seed(0)
    model = gal_cnn((28, 28, 1), seed=0)
    sampler = MCSampler(model, args.mc_samples, seed=0)
    results = []
    for size in args.pools:
        pool = make_pool(size).astype("float32") / 255.0
        baseline = None
        for method in args.methods:
            result = run_case(method, sampler, pool, args)
            if method == "bald":
                baseline = result["warm_seconds"]
            ratio = (
                f"{result['warm_seconds'] / baseline:.2f}x"
                if baseline else "n/a"
            )
            result["vs_bald"] = (
                result["warm_seconds"] / baseline if baseline else None
            )
            results.append(result)
            print(
                f"| {method} | {size:,} | {result['first_seconds']:.2f} | "
                f"{result['warm_seconds']:.2f} | {ratio} | "
                f"{result['peak_mib']:.0f} |",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"machine": machine, "args": vars(args),
                       "results": results}, handle, indent=2)


if __name__ == "__main__":
    main()
