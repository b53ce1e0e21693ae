"""
Title: Beyond one machine: studies and pools on Ray
Author: keras_dbal developers
Date created: 2026/12/08
Last modified: 2026/12/08
Description: A study that survives a killed worker; a pool scored by 2 actors.
"""

"""
## Introduction

A study is many runs (acquisition functions x seeds), and a long one
should survive losing a machine. A pool can be larger than one process
scores quickly. keras_dbal hands both to Ray (`pip install
"keras-dbal[ray]"`), which runs on a laptop as a local cluster as well as
on many machines:

- `run_experiment(..., state_dir=DIR, ray="auto")` runs each seed's runs
  as one Ray task, each keeping its state in `DIR/seed-<seed>/` after
  every round; a task whose worker dies is retried and continues from
  its last finished round.
- `top_n_on_ray(dataset, model, "bald", n)` scores a pool held as a Ray
  Dataset with a pool of actors and merges their top n.

Both give exactly what one process gives: the dropout masks depend on the
seed and each image's pool position only, never on which worker or batch
scores it.

Run it with `python tutorials/beyond_one_machine.py`; it uses the 8x8
digits shipped with scikit-learn. `KERAS_DBAL_TUTORIAL_QUICK=1` shrinks it
to a smoke test; `KERAS_DBAL_TUTORIAL_OUT` says where figures go (default
`tutorials/figures`).
"""

"""
## Setup
"""

# keras_dbal first: it starts TensorFlow with TensorFlow's start-up
# notes kept off stderr, which it cannot do once TensorFlow is imported.
import keras_dbal

# isort: split

import json
import logging
import os
import signal
import tempfile
import time

import keras
import numpy as np
import ray
from matplotlib import pyplot

from keras_dbal.distributed import pool_dataset
from keras_dbal.distributed import top_n_on_ray
from keras_dbal.experiments import ExperimentConfig
from keras_dbal.experiments import run_experiment
from keras_dbal.experiments import state

QUICK = os.environ.get("KERAS_DBAL_TUTORIAL_QUICK") == "1"
OUT = os.environ.get(
    "KERAS_DBAL_TUTORIAL_OUT",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"),
)
os.makedirs(OUT, exist_ok=True)
ROUNDS = 2 if QUICK else 8
POOL_SIZE = 2_000 if QUICK else 100_000

data = keras_dbal.datasets.load_digits()
# `keras-dbal run`'s defaults (100 epochs of 32 images), shortened for
# the smoke run.
config = ExperimentConfig(
    acquisitions=("bald", "random"), seeds=(0, 1), rounds=ROUNDS,
    **({"epochs": 5, "mc_samples": 5} if QUICK else {}),
)

"""
## A local Ray cluster

`ray.init` starts one on this machine's cores; on a real cluster you
would connect to it instead (`ray="HOST:PORT"`, or `--ray HOST:PORT` on
the command line).
"""

ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR)
address = ray.get_runtime_context().gcs_address

"""
## The study in one process

The reference: every run in lockstep in this process.
"""

started = time.perf_counter()
alone = run_experiment(data, config, progress=False, log=lambda line: None)
print(f"One process: {len(alone)} runs, {ROUNDS} rounds, "
      f"{time.perf_counter() - started:.0f} s")

"""
## The same study on Ray, a worker killed mid-round

`on_result` hears of every round all seeds have finished. The first time,
we kill (SIGKILL) the worker running a seed that is still going: its lock
file names the process. Ray retries that seed's task on another worker,
which continues from the seed's last finished round.
"""

folder = tempfile.mkdtemp(prefix="study_")
killed = []


def kill_a_worker_once(results_so_far):
    if not killed:
        for seed in config.seeds:
            seed_folder = os.path.join(folder, f"seed-{seed}")
            if state.read(seed_folder)["rounds_done"] < ROUNDS:
                with open(os.path.join(seed_folder, ".lock")) as file:
                    pid = json.load(file)["pid"]
                os.kill(pid, signal.SIGKILL)
                killed.append((seed, pid))
                print(f"Killed the worker of seed {seed} (process {pid}) "
                      "in the middle of a round")
                break
    return False


started = time.perf_counter()
spread = run_experiment(
    data, config, progress=False, log=lambda line: None, state_dir=folder,
    ray=address, on_result=kill_a_worker_once,
)
print(f"On Ray: {len(spread)} runs, {time.perf_counter() - started:.0f} s")
same = all(
    one["labelled"] == other["labelled"]
    and np.allclose(one["error"], other["error"], atol=1e-9)
    for one, other in zip(alone, spread, strict=True)
)
print(f"Same queries and curves as one process: {same}")
if not same:
    raise SystemExit("The study on Ray differs from one process.")

"""
The two curves of every run lie on each other. (Which acquisition
function wins is another question: after 8 rounds on the digits BALD
still trails random here, two seeds being little evidence either way;
the README's main job and Table 1 compare them over longer runs.)
"""

figure, axis = pyplot.subplots(figsize=(6, 4))
for one, other in zip(alone, spread, strict=True):
    label = f"{one['acquisition']} seed {one['seed']}"
    line, = axis.plot(one["num_labelled"], one["accuracy"], label=label)
    axis.plot(other["num_labelled"], other["accuracy"], "o",
              color=line.get_color(), fillstyle="none")
axis.set_xlabel("Labelled images")
axis.set_ylabel("Test accuracy")
axis.set_title("Lines: one process. Circles: Ray, a worker killed")
axis.legend(fontsize=8)
figure.tight_layout()
figure.savefig(os.path.join(OUT, "beyond_study.png"), dpi=120)

"""
## A pool scored by two actors

A pool of digits repeated with noise, held as a Ray Dataset with each
image's position. Two actors score it with BALD, each holding one
`MCSampler`; the driver keeps only a running top 10. The result is the
one `MCSampler.top_n` gives in this process.
"""

rng = np.random.default_rng(0)
(x_digits, _), _ = data
picks = rng.integers(0, len(x_digits), POOL_SIZE)
pool = np.clip(
    x_digits[picks] + rng.normal(0, 0.05, (POOL_SIZE, 8, 8, 1)), 0, 1
).astype("float32")
keras.utils.set_random_seed(0)
model = keras_dbal.gal_cnn((8, 8, 1), seed=0)

started = time.perf_counter()
positions, scores = top_n_on_ray(
    pool_dataset(pool), model, "bald", 10, mc_samples=10, seed=0,
    workers=2, batch_size=2048,
)
print(f"Scored {POOL_SIZE} images with 2 actors in "
      f"{time.perf_counter() - started:.0f} s (actors' start included)")
sampler = keras_dbal.MCSampler(model, 10, seed=0)
local, _ = sampler.top_n(pool, keras_dbal.acquisition.bald, 10)
print(f"Same top 10 as one process: {np.array_equal(positions, local)}")
if not np.array_equal(positions, local):
    raise SystemExit("The actors chose other images than one process.")
ray.shutdown()

"""
## On a real cluster

- Start Ray on the machines (`ray start --head` on one, `ray start
  --address HEAD:6379` on the others) and give `ray="HEAD:6379"`.
- The study's folder and the model file must be on storage every worker
  reaches (a shared file system).
- Where the cluster has GPUs, each task and each actor takes one: the
  seeds of a study, or the actors of a pool, run one per GPU.
"""
