
"""Smoke tests: the benchmark entry points run end to end on tiny settings.

They check that files are written and well formed, never how fast anything
ran.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from benchmarks import batchbald
from benchmarks import engine
from benchmarks import ensembles
from benchmarks import feature_cache
from benchmarks import floor
from benchmarks import gal2017
from benchmarks import repeated_mnist
from benchmarks import sampler
from keras_dbal import MCDropout
from keras_dbal import experiments
from keras_dbal import training

# The entry points' wiring, files and tables; what they measure is tested
# under both backends in the package's own tests (sampling, compiled fit,
# experiments). CI runs this module under TensorFlow only.
pytestmark = pytest.mark.backend_independent


@pytest.mark.slow
def test_gal2017_smoke_preset_writes_results(tmp_path):
    out = gal2017.run("smoke", out_root=str(tmp_path), progress=False)
    with open(f"{out}/results.json") as file:
        results = json.load(file)
    labels = set(results["summary"])
    assert labels == {"bald", "random", "max_entropy (deterministic)"}
    for curve in results["summary"].values():
        assert curve["num_labelled"] == [10, 15, 20]
    # The twin has no MCDropout: its two test errors are the same pass.
    twin = results["summary"]["max_entropy (deterministic)"]
    assert twin["error_without_dropout_mean"] == twin["error_mean"]
    assert set(results["table_1"]) == set(gal2017.METRICS)
    with open(f"{out}/table.md") as file:
        table = file.read()
    assert table.count("| bald |") == 2 and "145 / 335" in table
    assert "dropout off" in table
    with open(f"{out}/curves.png", "rb") as file:
        assert file.read(4) == b"\x89PNG"


def test_table_one_counts_acquired_labels():
    summary = {
        "bald": {"num_labelled": [20, 30, 40], "error_mean": [0.3, 0.12, 0.04],
                 "error_std": [0, 0, 0],
                 "error_without_dropout_mean": [0.3, 0.09, 0.02],
                 "seeds": [0]},
    }
    assert gal2017.table_one(summary, (0.10, 0.05, 0.01), 20) == {
        "bald": [20, 20, None]
    }
    assert gal2017.table_one(
        summary, (0.10, 0.05, 0.01), 20, "error_without_dropout"
    ) == {"bald": [10, 20, None]}


@pytest.mark.slow
def test_sampler_benchmark_runs(tmp_path, capsys):
    sampler.main([
        "--sizes", "40", "--samples", "2", "--chunk-size", "16",
        "--json", str(tmp_path / "s.json"),
    ])
    rows = json.loads((tmp_path / "s.json").read_text())["rows"]
    assert [row["method"] for row in rows] == [
        "naive", "full_passes", "sampler"
    ]
    assert "| 40 | 2 | sampler |" in capsys.readouterr().out


@pytest.mark.slow
def test_engine_benchmark_runs(tmp_path, capsys):
    engine.main([
        "--runs", "2", "--labels", "5", "--epochs", "1", "--batch-size",
        "4", "--repeats", "1", "--json", str(tmp_path / "e.json"),
    ])
    rows = json.loads((tmp_path / "e.json").read_text())["rows"]
    # Every registered strategy, the baseline first.
    assert [row["method"] for row in rows] == ["sequential"] + [
        name for name in training.STRATEGIES if name != "sequential"
    ]
    assert all(row["seconds"] > 0 for row in rows)
    assert "| lockstep | 2 | 5 |" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.jax
def test_every_registered_strategy_fits_the_weights_of_model_fit():
    # Through the benchmark's own code path: a strategy registered later is
    # timed, and checked here, with no change to either.
    args = argparse.Namespace(epochs=2, batch_size=4)
    rng = np.random.default_rng(0)
    xs = rng.random((2, 6, 28, 28, 1)).astype("float32")
    ys = rng.integers(0, 10, (2, 6))
    weights = {}
    for name in training.STRATEGIES:
        run, models = engine.fit_case(name, xs, ys, args)
        initial = [model.get_weights() for model in models]
        run()
        weights[name] = [model.get_weights() for model in models]
        # The fit changed the weights: a comparison that cannot fail is
        # none.
        assert not np.allclose(initial[0][-2], weights[name][0][-2])
    reference = weights.pop(engine.BASELINE)
    assert weights, "only the baseline is registered"
    for name, fitted in weights.items():
        for ours, theirs in zip(fitted, reference, strict=True):
            for a, b in zip(ours, theirs, strict=True):
                np.testing.assert_allclose(a, b, atol=1e-5, err_msg=name)


@pytest.mark.slow
def test_partial_batch_benchmark_fits_both_ways(tmp_path):
    from benchmarks import partial_batch

    assert partial_batch.batch_size("partial", 130) == 128
    assert partial_batch.batch_size("equal", 130) == 65  # two of 65
    assert partial_batch.batch_size("equal", 257) == 86  # three
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "tiny.npz",
             x_train=rng.integers(0, 256, (140, 28, 28), "uint8"),
             y_train=np.arange(140) % 10,
             x_test=rng.integers(0, 256, (20, 28, 28), "uint8"),
             y_test=np.arange(20) % 10)
    partial_batch.main([
        "--data", str(tmp_path / "tiny.npz"), "--seeds", "0", "--counts",
        "128", "130", "--epochs", "1", "--out", str(tmp_path / "out"),
    ])
    rows = json.loads((tmp_path / "out" / "results.json").read_text())[
        "rows"
    ]
    assert [(row["count"], row["mode"], row["batch_size"]) for row in rows] == [
        (128, "partial", 128), (128, "equal", 128),
        (130, "partial", 128), (130, "equal", 65),
    ]
    assert "| 130 | 2 |" in (tmp_path / "out" / "table.md").read_text()


def test_engine_best_strategy_is_the_fastest_first_call():
    rows = [
        {"method": "sequential", "first_seconds": 3.0},
        {"method": "compiled", "first_seconds": 1.0},
        {"method": "lockstep", "first_seconds": 2.5},
        {"method": "sequential", "first_seconds": 3.0},
        {"method": "compiled", "first_seconds": 9.0},
        {"method": "lockstep", "first_seconds": 2.5},
    ]
    assert engine.best_strategy(rows) == "lockstep"  # 5.0 < 6.0 < 10.0
    assert engine.best_strategy(rows[:3]) == "compiled"
    assert engine.best_strategy(rows[:1]) == "sequential"


@pytest.mark.slow
def test_device_run_needs_no_tensorflow(tmp_path):
    # The GPU machine has JAX but no TensorFlow: a dry run on this CPU,
    # TensorFlow made unimportable, every step on tiny settings.
    blocked = tmp_path / "blocked"
    for name in ("tensorflow", "tensorflow_datasets"):
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text(
            f"raise ImportError('no {name} on the GPU machine')\n"
        )
    out = tmp_path / "out"
    env = {
        **os.environ,
        "PYTHONPATH": str(blocked),
        "PYTHON": sys.executable,
        "ALLOW_CPU": "1",
        # model.fit only: the compiled strategies' JAX paths are tested
        # under JAX in test_lockstep; here every step's imports are.
        "ENGINE_ARGS": "--runs 2 --labels 5 --epochs 1 --batch-size 4 "
                       "--repeats 1 --methods sequential",
        "SAMPLER_ARGS": "--sizes 40 --samples 2 --chunk-size 16 "
                        "--methods sampler",
        "MEMORY_ARGS": "--runs 1 --pool 50 --mc-samples 2 --epochs 1",
        "GAL_ARGS": "--preset smoke --rounds 1",
    }
    result = subprocess.run(
        ["bash", "benchmarks/device_run.sh", str(out), "none", "900"],
        cwd=pathlib.Path(__file__).parents[1], env=env, capture_output=True,
        text=True, timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    log = (out / "device.log").read_text()
    assert "gal2017 exited 0" in log
    strategy = log.split("fastest first-call strategy: ")[1].split()[0]
    assert strategy == "sequential"
    assert json.loads((out / "engine.json").read_text())["backend"] == "jax"
    assert len(json.loads((out / "memory.json").read_text())["rows"]) == 1
    results = json.loads(
        (out / "smoke-rounds-1-cpu-jax" / "results.json").read_text()
    )
    assert results["strategy"] == strategy and results["rounds_done"] == 1


@pytest.mark.slow
def test_batchbald_benchmark_runs(tmp_path, capsys):
    batchbald.main([
        "--pools", "64", "--repeats", "1", "--candidates", "16",
        "--configurations", "50", "--mc-samples", "4",
        "--json", str(tmp_path / "b.json"),
    ])
    results = json.loads((tmp_path / "b.json").read_text())["results"]
    assert [row["method"] for row in results] == [
        "bald", "power_bald", "batchbald"
    ]
    assert results[0]["vs_bald"] == 1.0
    assert "| batchbald | 64 |" in capsys.readouterr().out


def test_repeated_pool_and_its_duplicates():
    x = np.arange(4 * 2 * 2, dtype="float32").reshape(4, 2, 2, 1) / 16
    y = np.array([0, 1, 0, 1])
    pool, labels, original = repeated_mnist.repeated_pool(x, y, 3, 0.1, 0)
    assert pool.shape == (12, 2, 2, 1) and labels.tolist() == [0, 1] * 6
    assert original.tolist() == [0, 1, 2, 3] * 3
    noise = pool - np.concatenate([x] * 3)
    assert 0.05 < noise.std() < 0.15 and np.abs(noise).max() > 0
    # Initial labels at positions 0 and 1 (images 0, 1); then position 4
    # (a copy of image 0), 6 (image 2, new) and 10 (a copy of image 2).
    result = {"labelled": [0, 1, 4, 6, 10]}
    assert repeated_mnist.duplicates(result, original, initial=2) == 2


@pytest.mark.slow
def test_feature_cache_benchmark_runs(tmp_path, capsys):
    feature_cache.main([
        "--pool", "40", "--image-size", "32", "--mc-samples", "2",
        "--batch", "2", "--rounds", "1", "--json", str(tmp_path / "f.json"),
    ])
    result = json.loads((tmp_path / "f.json").read_text())
    assert result["args"]["backbone"] == "MobileNetV3Small"
    assert result["ratio"] > 0 and result["cached_s"] > 0
    assert "| cached features" in capsys.readouterr().out


@pytest.mark.slow
def test_ensembles_benchmark_runs(tmp_path, digits):
    (x, y), (x_test, y_test) = digits
    data = tmp_path / "tiny.npz"
    np.savez(data, x_train=(x[:200, ..., 0] * 255).astype("uint8"),
             y_train=y[:200], x_test=(x_test[:50, ..., 0] * 255)
             .astype("uint8"), y_test=y_test[:50])
    out = ensembles.main([
        "--data", str(data), "--members", "2", "--mc-samples", "2",
        "--seeds", "0", "--rounds", "1", "--epochs", "1",
        "--pool-subset", "50", "--out", str(tmp_path / "out"),
    ])
    runs = json.loads((pathlib.Path(out) / "results.json").read_text())[
        "runs"]
    assert [(r["acquisition"], r["model"]) for r in runs] == [
        ("bald", "bayesian"), ("random", "bayesian"),
        ("bald", "ensemble"), ("random", "ensemble"),
    ]
    table = (pathlib.Path(out) / "table.md").read_text()
    assert "| ensemble | bald |" in table and "| MC dropout | random |" in table
    assert (pathlib.Path(out) / "curves.png").read_bytes()[:4] == b"\x89PNG"


# Internal modules a benchmark may import, and why: the sampler's
# `full_passes` baseline draws the sampler's own masks.
INTERNALS = {
    "sampler.py": {
        "keras_dbal.backend", "keras_dbal.layers.mask_scope",
        "keras_dbal.sampling.masks",
    },
}


def test_benchmarks_use_the_public_api():
    import ast
    import importlib

    import keras_dbal

    public = {"keras_dbal"} | {
        f"keras_dbal.{name}" for name in keras_dbal.__all__
        if isinstance(getattr(keras_dbal, name), type(keras_dbal))
    }
    root = pathlib.Path(__file__).parents[1] / "benchmarks"
    for path in sorted(root.glob("*.py")):
        used = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and (
                node.module.split(".")[0] == "keras_dbal"
            ):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    value = getattr(module, alias.name, None)
                    if value is None:  # a submodule not yet imported
                        value = importlib.import_module(
                            f"{node.module}.{alias.name}"
                        )
                    used.add(
                        value.__name__ if isinstance(value, type(module))
                        else node.module
                    )
            elif isinstance(node, ast.Import):
                used.update(
                    alias.name for alias in node.names
                    if alias.name.split(".")[0] == "keras_dbal"
                )
        internal = used - public - INTERNALS.get(path.name, set())
        assert not internal, f"{path.name} imports {sorted(internal)}"


def test_floor_counts_layer_flops_by_hand():
    model = keras.Sequential([
        keras.Input((5, 5, 1)), keras.layers.Conv2D(2, 3), MCDropout(0.5),
        keras.layers.Flatten(), keras.layers.Dense(4),
    ])
    flops, cut = floor.layer_flops(model)
    # 3 x 3 outputs of 2 channels, each 3 x 3 x 1 multiply-adds; 18 -> 4.
    assert flops == [2 * 3 * 3 * 3 * 3 * 1 * 2, 0, 0, 2 * 18 * 4]
    assert cut == 1


@pytest.mark.slow
def test_floor_benchmark_runs(tmp_path, capsys):
    floor.main(["--preset", "smoke", "--rounds", "1", "--json",
                str(tmp_path / "f.json")])
    record = json.loads((tmp_path / "f.json").read_text())
    assert [row["part"] for row in record["rows"]] == [
        "fit", "query", "evaluate", "total"
    ]
    total = record["rows"][-1]
    assert total["gflop"] == pytest.approx(
        sum(row["gflop"] for row in record["rows"][:-1])
    )
    assert "| total |" in capsys.readouterr().out


@pytest.mark.slow
def test_gal2017_resume_continues_in_the_same_folder(tmp_path):
    out = gal2017.run("smoke", out_root=str(tmp_path), progress=False,
                      rounds=1)
    with open(f"{out}/results.json") as file:
        first = json.load(file)["runs"]
    assert gal2017.run("smoke", progress=False, rounds=2, resume=out) == out
    with open(f"{out}/results.json") as file:
        record = json.load(file)
    assert record["rounds_done"] == 2
    for before, after in zip(first, record["runs"], strict=True):
        assert after["labelled"][:15] == before["labelled"]
        assert len(after["labelled"]) == 20


def test_gal2017_stops_once_every_curve_is_below():
    def run(acquisition, errors, without):
        return {"acquisition": acquisition, "model": "bayesian",
                "bayesian": True, "seed": 0, "num_labelled": [20, 30],
                "error": errors, "error_without_dropout": without,
                "accuracy": [1 - e for e in errors]}

    below = [run("bald", [0.3, 0.09], [0.3, 0.1]),
             run("random", [0.3, 0.08], [0.3, 0.05])]
    assert gal2017._all_below(experiments.summarize(below), 0.10)
    assert not gal2017._all_below(experiments.summarize(below), None)
    above = below[:1] + [run("random", [0.3, 0.08], [0.3, 0.11])]
    assert not gal2017._all_below(experiments.summarize(above), 0.10)
