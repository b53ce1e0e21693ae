"""A study's wall time on Ray (one task per seed) against one process, in
one run.

Run (from the repository root; needs `pip install "keras-dbal[ray]"`):

    python -m benchmarks.ray_study --data ../shared/data/mnist_5k.npz

The study is `keras-dbal run`'s default experiment (BALD and random, the
seeds given) on the file's pool and test images, `--rounds` rounds of
10: first in one process (`run_experiment`, every run in lockstep), then
on a local Ray cluster of `--cpus` CPUs (`run_experiment(..., ray=...)`,
one task per seed, each task's runs in lockstep), from the call to the
results; the Ray time includes starting the cluster and its workers. The
two must give the same queries (checked). Without `--data`, the embedded
digits.
"""

import argparse
import json
import logging
import tempfile
import time

import keras

from benchmarks.gal2017 import device_label
from keras_dbal.datasets import load_dataset
from keras_dbal.experiments import ExperimentConfig
from keras_dbal.experiments import run_experiment


def measure(args):
    import ray

    data = (
        load_dataset("mnist", path=args.data) if args.data
        else load_dataset("digits")
    )
    config = ExperimentConfig(seeds=tuple(args.seeds), rounds=args.rounds)
    quiet = {"progress": False, "log": lambda line: None}
    start = time.perf_counter()
    alone = run_experiment(data, config, **quiet)
    rows = [("one process", time.perf_counter() - start)]
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False,
                 logging_level=logging.ERROR)
        try:
            address = ray.get_runtime_context().gcs_address
            spread = run_experiment(data, config, state_dir=folder,
                                    ray=address, **quiet)
        finally:
            ray.shutdown()
        rows.append((f"ray, {len(args.seeds)} tasks on {args.cpus} CPUs",
                     time.perf_counter() - start))
    if [r["labelled"] for r in alone] != [r["labelled"] for r in spread]:
        raise AssertionError("Ray's study queried other images")
    return config, rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", metavar="FILE.npz",
                        help="an mnist.npz-style file (default: digits)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--json", metavar="FILE",
                        help="also write the results here")
    args = parser.parse_args(argv)
    config, rows = measure(args)
    baseline = rows[0][1]
    print(f"Study: {len(config.acquisitions)} acquisition functions x "
          f"{len(args.seeds)} seeds, {args.rounds} rounds, "
          f"{args.data or 'digits'}, {device_label()[0]}, Keras backend "
          f"{keras.backend.backend()}:")
    print("| way | seconds | vs one process |")
    print("|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.1f} | {baseline / seconds:.2f}x |")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"args": vars(args), "seconds": dict(rows)}, file,
                      indent=2)


if __name__ == "__main__":
    main()
