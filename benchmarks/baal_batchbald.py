"""BatchBALD's greedy selection here against baal's, on the same samples.

Run (from the repository root), with a second Python that has baal and
PyTorch installed (a throw-away virtual environment: neither is a
dependency of keras_dbal):

    python3 -m venv /tmp/baalenv
    /tmp/baalenv/bin/pip install torch==2.13.0 baal
    python -m benchmarks.baal_batchbald --baal-python /tmp/baalenv/bin/python

Both select b = `--batch` images from the same `(T, K, C)` samples of K
`--candidates` images (random Dirichlet probabilities, seeded: the cost
depends on the shapes, not on the values), one after the other in this
run. keras_dbal's `greedy_batchbald` runs with M = `--configurations`
label configurations (exact while C^b is at most M); baal's `BatchBALD`
heuristic with `num_draw` = M too (it always samples). Each is called
once cold, then `--repeats` times warm; the table shows the median warm
seconds and the ratio. This times the selection step only: scoring the
pool (the MC passes) is the same work in both and is left out.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.sampler import describe_machine
from keras_dbal.batch_acquisition import greedy_batchbald

_BAAL = """
import json, statistics, sys, time
import numpy as np
from baal.active.heuristics import BatchBALD
from importlib.metadata import version
probs = np.load(sys.argv[1])["probs"].transpose(1, 2, 0)  # (K, C, T)
batch, draws, repeats = (int(value) for value in sys.argv[2:5])
heuristic = BatchBALD(num_samples=batch, num_draw=draws)
start = time.perf_counter(); heuristic(probs)
first = time.perf_counter() - start
seconds = []
for _ in range(repeats):
    start = time.perf_counter(); heuristic(probs)
    seconds.append(time.perf_counter() - start)
print(json.dumps({"first": first, "warm": statistics.median(seconds),
                  "version": version("baal")}))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baal-python", required=True,
                        help="a Python interpreter with baal installed")
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--mc-samples", type=int, default=20)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--configurations", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(
        np.full(args.classes, 0.3),
        size=(args.mc_samples, args.candidates),
    ).astype("float32")
    machine = describe_machine()
    print(f"Keras backend {machine['backend']}, {machine['device']}, "
          f"{machine['cpu']}; K = {args.candidates} candidates, T = "
          f"{args.mc_samples}, C = {args.classes}, b = {args.batch}, M = "
          f"{args.configurations}, median of {args.repeats}", flush=True)

    greedy_batchbald(probs, args.batch,
                     num_configurations=args.configurations, seed=0)
    seconds = []
    for repeat in range(args.repeats):
        start = time.perf_counter()
        greedy_batchbald(probs, args.batch,
                         num_configurations=args.configurations, seed=repeat)
        seconds.append(time.perf_counter() - start)
    ours = statistics.median(seconds)

    with tempfile.NamedTemporaryFile(suffix=".npz") as file:
        np.savez(file.name, probs=probs)
        found = subprocess.run(
            [args.baal_python, "-c", _BAAL, file.name, str(args.batch),
             str(args.configurations), str(args.repeats)],
            capture_output=True, text=True, check=False,
        )
    if found.returncode != 0:
        sys.exit(f"baal failed (exit {found.returncode}):\n"
                 f"{found.stderr[-2000:]}")
    baal = json.loads(found.stdout.strip().splitlines()[-1])
    print("| implementation | warm seconds | vs keras_dbal |")
    print("|---|---:|---:|")
    print(f"| keras_dbal `greedy_batchbald` | {ours:.2f} | 1.00x |")
    print(f"| baal {baal['version']} `BatchBALD` | {baal['warm']:.2f} | "
          f"{baal['warm'] / ours:.2f}x |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"machine": machine, "args": vars(args),
                       "keras_dbal_seconds": ours, "baal": baal}, handle,
                      indent=2)


if __name__ == "__main__":
    main()
