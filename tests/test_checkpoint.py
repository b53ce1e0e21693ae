import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import keras_dbal
from keras_dbal import ActiveLearner
from keras_dbal import Pool
from keras_dbal import checkpoint
from keras_dbal.checkpoint import CheckpointError
from tests.conftest import requires_backend

ROUNDS = 6


@pytest.fixture
def taught(tmp_path, digits):
    (x, y), _ = digits
    keras.utils.set_random_seed(0)
    model = keras_dbal.gal_cnn((8, 8, 1), seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    pool = Pool(x[:150], y[:150])
    learner = ActiveLearner(
        model, "bald", mc_samples=3, seed=0, checkpoint_dir=tmp_path / "s",
        fit_kwargs={"epochs": 1, "batch_size": 32},
    )
    learner.teach(pool, y[:10], indices=np.arange(10))
    return learner, pool, tmp_path / "s"


def snapshot(directory):
    """Every file's bytes under a directory."""
    files = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as file:
                files[os.path.relpath(path, directory)] = file.read()
    return files


def test_round_trip_continues_exactly(taught, digits):
    learner, pool, state = taught
    (x, y), _ = digits
    fresh_pool = Pool(x[:150], y[:150])
    resumed = ActiveLearner.load(state, pool=fresh_pool)
    np.testing.assert_array_equal(fresh_pool.labels_, pool.labels_)
    np.testing.assert_array_equal(resumed.y_labelled_, learner.y_labelled_)
    for original, restored in zip(
        learner.model.variables, resumed.model.variables, strict=True
    ):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(original),
            keras.ops.convert_to_numpy(restored),
        )
    for _ in range(2):
        expected = learner.query(pool, n=4)
        np.testing.assert_array_equal(resumed.query(fresh_pool, n=4), expected)
        learner.teach(pool, pool.oracle(expected), indices=expected)
        resumed.teach(fresh_pool, fresh_pool.oracle(expected),
                      indices=expected)


def test_only_recent_checkpoints_are_kept(taught):
    learner, pool, state = taught
    chosen = learner.query(pool, n=3)
    learner.teach(pool, pool.oracle(chosen), indices=chosen)
    names = sorted(n for n in os.listdir(state) if n.startswith("ckpt-"))
    assert len(names) == 2 and checkpoint.latest(state) == names[-1]


def test_interrupted_save_is_ignored(taught, digits):
    learner, _, state = taught
    before = checkpoint.latest(state)
    # What a crash in the middle of a save leaves behind.
    partial = state / ".tmp-crashed"
    partial.mkdir()
    (partial / "state.json").write_text("{ half")
    (state / "LATEST.tmp-crashed").write_text("ckpt-99999999")
    (x, y), _ = digits
    resumed = ActiveLearner.load(state, pool=Pool(x[:150], y[:150]))
    assert resumed.num_labelled == learner.num_labelled
    assert checkpoint.latest(state) == before
    resumed.checkpoint()
    assert not partial.exists()


def test_labels_are_on_disk_before_the_fit(taught, digits, monkeypatch):
    learner, pool, state = taught

    def crash(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(learner.model, "fit", crash)
    with pytest.raises(KeyboardInterrupt):
        learner.teach(pool, pool.oracle([40, 41]), indices=[40, 41])
    monkeypatch.undo()
    (x, y), _ = digits
    resumed = ActiveLearner.load(state, pool=Pool(x[:150], y[:150]))
    assert resumed.num_labelled == 12
    assert set(resumed.pool_indices_) >= {40, 41}


def test_existing_state_is_never_overwritten(taught):
    learner, _, state = taught
    with pytest.raises(ValueError, match="already holds a checkpoint"):
        ActiveLearner(learner.model, "bald", checkpoint_dir=state)


def test_another_pool_is_refused(taught, digits):
    _, _, state = taught
    (x, y), _ = digits
    with pytest.raises(CheckpointError, match="fingerprint"):
        ActiveLearner.load(state, pool=Pool(x[1:151], y[1:151]))


def test_unknown_format_is_explained(taught):
    _, _, state = taught
    folder = state / checkpoint.latest(state)
    saved = json.loads((folder / "state.json").read_text())
    saved["format"] = checkpoint.FORMAT + 1
    (folder / "state.json").write_text(json.dumps(saved))
    with pytest.raises(CheckpointError, match="Upgrade keras_dbal"):
        ActiveLearner.load(state)
    saved["format"] = 0
    (folder / "state.json").write_text(json.dumps(saved))
    with pytest.raises(CheckpointError, match="version that saved it"):
        ActiveLearner.load(state)
    del saved["history"]
    saved["format"] = checkpoint.FORMAT
    (folder / "state.json").write_text(json.dumps(saved))
    with pytest.raises(CheckpointError, match=r"lacks the fields \['history'"):
        ActiveLearner.load(state)


def test_missing_state(tmp_path):
    with pytest.raises(CheckpointError, match="No checkpoint"):
        ActiveLearner.load(tmp_path)


def test_rejected_teach_leaves_state_byte_identical(taught):
    learner, pool, state = taught
    before = snapshot(state)
    bad_calls = [
        lambda: learner.teach(pool, [1, 2], indices=[0, 20]),
        lambda: learner.teach(pool, [1, 99], indices=[20, 21]),
        lambda: learner.teach(pool, [1], indices=[200]),
        lambda: learner.teach(np.full((1, 8, 8, 1), np.nan), [1]),
        lambda: learner.query(pool, n=0),
    ]
    for call in bad_calls:
        with pytest.raises(ValueError):
            call()
    assert snapshot(state) == before


def run_worker(state, journal, **popen):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.resume_worker", str(state),
         str(journal), str(ROUNDS)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, **popen,
    )


def finish(process):
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


# The kill points exercise the file protocol, which does not depend on the
# backend; exact resume under JAX is covered by the round-trip test above.
@requires_backend("tensorflow")
@pytest.mark.slow
def test_sigkill_at_random_points_loses_nothing(tmp_path):
    expected = finish(run_worker(tmp_path / "clean", tmp_path / "clean.log"))
    state, journal = tmp_path / "killed", tmp_path / "killed.log"
    rng = np.random.default_rng(0)
    kills = 0
    while kills < 6:
        process = run_worker(state, journal)
        time.sleep(rng.uniform(2.0, 9.0))
        if process.poll() is not None:
            process.communicate()
            break
        process.send_signal(signal.SIGKILL)
        process.communicate()
        kills += 1
    result = finish(run_worker(state, journal))
    assert kills >= 3
    told_safe = {
        position for line in journal.read_text().splitlines()
        for position in json.loads(line)
    }
    assert told_safe <= set(result["labelled"])
    assert result == expected
