import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings

import keras
import numpy as np
import pytest

import keras_dbal
from keras_dbal import ActiveLearner
from keras_dbal import Pool
from keras_dbal.saving import checkpoint
from keras_dbal.saving import folders
from keras_dbal.saving import formats
from keras_dbal.saving.checkpoint import CheckpointError
from keras_dbal.saving.checkpoint import CheckpointWarning
from keras_dbal.saving.locking import StateLockedError
from keras_dbal.saving.locking import lock_directory
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


@contextlib.contextmanager
def warns_damaged(match):
    """A `CheckpointWarning` matching `match` (pytest.warns would re-raise
    the libraries' own deprecation warnings it catches alongside)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    messages = [
        str(warning.message) for warning in caught
        if issubclass(warning.category, CheckpointWarning)
    ]
    assert any(re.search(match, message) for message in messages), messages


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
    learner.close()  # it goes on in memory only; `resumed` owns the state
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
    assert len(names) == 2 and folders.latest(state) == names[-1]


def test_interrupted_save_is_ignored(taught, digits):
    learner, _, state = taught
    before = folders.latest(state)
    # What a crash in the middle of a save leaves behind.
    partial = state / f".tmp-{'a' * 32}"
    partial.mkdir()
    (partial / "state.json").write_text("{ half")
    pointer = state / f"LATEST.tmp-{'b' * 32}"
    pointer.write_text("ckpt-99999999")
    # A person's files that merely look alike.
    theirs = [state / ".tmp-notes", state / f"notes.tmp-{'c' * 32}"]
    for path in theirs:
        path.write_text("mine")
    (x, y), _ = digits
    resumed = ActiveLearner.load(state, pool=Pool(x[:150], y[:150]))
    assert resumed.num_labelled == learner.num_labelled
    assert folders.latest(state) == before
    resumed.checkpoint()
    assert not partial.exists() and not pointer.exists()
    assert all(path.read_text() == "mine" for path in theirs)


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
    folder = state / folders.latest(state)
    saved = json.loads((folder / "state.json").read_text())
    saved["format"] = formats.FORMAT + 1
    (folder / "state.json").write_text(json.dumps(saved))
    with pytest.raises(CheckpointError, match="Upgrade keras_dbal"):
        ActiveLearner.load(state)
    saved["format"] = 0
    (folder / "state.json").write_text(json.dumps(saved))
    with pytest.raises(CheckpointError, match="version that saved it"):
        ActiveLearner.load(state)
    # A field missing is damage, not another format: the checkpoint before
    # it is loaded instead (see test_damaged_newest_checkpoint_...).
    del saved["history"]
    saved["format"] = formats.FORMAT
    (folder / "state.json").write_text(json.dumps(saved))
    with warns_damaged(r"lacks the fields \['history'"):
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


# What reaches the disk, and when, is keras_dbal's code under every backend.
@pytest.mark.backend_independent
@pytest.mark.slow
def test_sigkill_at_random_points_loses_nothing(tmp_path):
    expected = finish(run_worker(tmp_path / "clean", tmp_path / "clean.log"))
    state, journal = tmp_path / "killed", tmp_path / "killed.log"
    rng = np.random.default_rng(0)
    kills = 0
    while kills < 4:
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


# -- No label lost: numbering, damage, locks, bookkeeping (issue #10) --


def test_leftover_newer_folder_is_continued_not_collided_with(taught, digits):
    learner, pool, state = taught
    newest = folders.latest(state)
    number = int(newest.rsplit("-", 1)[1]) + 1
    # What a crash between the rename and LATEST leaves: a complete
    # folder one past LATEST.
    shutil.copytree(state / newest, state / f"ckpt-{number:08d}")
    learner.close()
    (x, y), _ = digits
    resumed = ActiveLearner.load(state, pool=Pool(x[:150], y[:150]))
    assert (state / folders.LATEST).read_text() == f"ckpt-{number:08d}"
    chosen = resumed.query(Pool(x[:150], y[:150]), n=3)
    resumed.teach(resumed_pool(resumed, digits), y[chosen], indices=chosen)
    assert folders.latest(state) == f"ckpt-{number + 2:08d}"
    assert resumed.num_labelled == 13


def resumed_pool(learner, digits):
    (x, y), _ = digits
    pool = Pool(x[:150], y[:150])
    learner._sync_pool(pool)
    return pool


def worker(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.state_worker", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


@requires_backend("tensorflow")
@pytest.mark.slow
def test_sigkill_between_rename_and_latest_loses_nothing(tmp_path):
    state = tmp_path / "state"
    first = worker("teach", state, 1)
    out, err = first.communicate(timeout=600)
    assert first.returncode == -signal.SIGKILL, err[-2000:]
    asked = {p for line in out.splitlines() for p in json.loads(line)}
    assert len(asked) == 15
    # The folder of the killed save is complete but LATEST lags behind.
    assert (state / folders.LATEST).read_text() != folders.latest(state)
    second = worker("teach", state, 0)
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, err[-2000:]
    labelled = json.loads(out.splitlines()[-1])["labelled"]
    # The five labels of the killed teach were recovered, none twice.
    assert asked <= set(labelled) and len(labelled) == len(set(labelled)) == 20
    assert (state / folders.LATEST).read_text() == folders.latest(state)


@requires_backend("tensorflow")
@pytest.mark.slow
def test_second_process_is_refused_until_the_holder_dies(taught, digits):
    learner, _, state = taught
    learner.close()
    holder = worker("hold", state)
    assert holder.stdout.readline().strip() == "locked"
    before = snapshot(state)
    try:
        with pytest.raises(StateLockedError, match=f"process {holder.pid} "):
            ActiveLearner.load(state)
        assert snapshot(state) == before
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate()
    # The kernel released the dead holder's lock: nothing to clean up.
    (x, y), _ = digits
    assert ActiveLearner.load(state, pool=Pool(x[:150])).num_labelled == 10


def test_stale_learner_cannot_write_after_a_newer_load(taught, digits):
    learner, pool, state = taught
    (x, y), _ = digits
    resumed = ActiveLearner.load(state, pool=Pool(x[:150], y[:150]))
    before = snapshot(state)
    with pytest.raises(StateLockedError, match="taken over"):
        learner.teach(pool, y[[60]], indices=[60])
    assert learner.num_labelled == 10 and snapshot(state) == before
    resumed.close()


@pytest.mark.parametrize("filename", ["arrays.npz", "model.keras"])
def test_damaged_newest_checkpoint_falls_back(taught, digits, filename):
    learner, pool, state = taught
    chosen = learner.query(pool, n=3)
    learner.teach(pool, y_of(digits, chosen), indices=chosen)
    learner.close()
    newest, previous = folders.latest(state), sorted(
        n for n in os.listdir(state) if n.startswith("ckpt-")
    )[-2]
    path = state / newest / filename
    path.write_bytes(path.read_bytes()[:1000])
    (x, y), _ = digits
    with warns_damaged(f"{filename} is damaged"):
        resumed = ActiveLearner.load(state, pool=Pool(x[:150], y[:150]))
    # The previous checkpoint was the same labels before the fit: refitted.
    assert resumed.num_labelled == 13 and folders.latest(state) != previous
    assert (state / f"damaged-{newest}").is_dir()


def y_of(digits, positions):
    return digits[0][1][positions]


def test_only_checkpoint_damaged_names_the_file(taught):
    learner, _, state = taught
    learner.close()
    for name in sorted(n for n in os.listdir(state) if n.startswith("ckpt")):
        (state / name / "arrays.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError, match=r"arrays.npz is damaged"):
        ActiveLearner.load(state)


def test_load_without_pool_keeps_the_labelled_positions(taught, digits):
    learner, _, state = taught
    learner.close()
    resumed = ActiveLearner.load(state)
    (x, y), _ = digits
    fresh = Pool(x[:150], y[:150])
    chosen = resumed.query(fresh, n=140)
    assert not set(chosen.tolist()) & set(range(10))
    with pytest.raises(ValueError, match=r"positions \[3\] are already"):
        resumed.teach(Pool(x[:150], y[:150]), [y[3]], indices=[3])
    assert resumed.num_labelled == 10


def test_a_load_failure_that_is_not_damage_moves_nothing(taught,
                                                          monkeypatch):
    learner, _, state = taught
    learner.close()
    before = sorted(os.listdir(state))

    def out_of_memory(path):
        raise MemoryError("no room for the model")

    monkeypatch.setattr(keras.models, "load_model", out_of_memory)
    with pytest.raises(CheckpointError, match="no room for the model"):
        ActiveLearner.load(state)
    assert sorted(os.listdir(state)) == before


class CountingCallback(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1


def test_unsaveable_fit_arguments_must_be_given_again(tmp_path, digits):
    (x, y), _ = digits
    model = keras_dbal.gal_cnn((8, 8, 1), seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    callback = CountingCallback()
    with ActiveLearner(
        model, "bald", mc_samples=3, seed=0, checkpoint_dir=tmp_path / "s",
        fit_kwargs={"epochs": 2, "batch_size": 16, "callbacks": [callback],
                    "class_weight": {c: 1.0 for c in range(10)}},
    ) as learner:
        learner.teach(x[:20], y[:20])
    assert callback.epochs == 2
    with pytest.raises(CheckpointError, match=r"\['callbacks', 'class_wei"):
        ActiveLearner.load(tmp_path / "s")
    again = CountingCallback()
    resumed = ActiveLearner.load(
        tmp_path / "s",
        fit_kwargs={"callbacks": [again], "class_weight": None},
    )
    assert resumed.fit_kwargs == {
        "verbose": 0, "epochs": 2, "batch_size": 16, "callbacks": [again],
        "class_weight": None,
    }
    resumed.teach(x[20:25], y[20:25])
    assert again.epochs == 2


def test_load_can_continue_with_another_acquisition(taught):
    learner, _, state = taught
    learner.close()
    resumed = ActiveLearner.load(state, acquisition="max_entropy")
    assert resumed.acquisition_name == "max_entropy"


def test_a_failed_load_frees_the_lock_at_once(taught, digits):
    learner, _, state = taught
    learner.close()
    (x, y), _ = digits
    with pytest.raises(CheckpointError) as caught:
        ActiveLearner.load(state, pool=Pool(x[1:151], y[1:151]))
    # The error, whose traceback holds the half-made learner, is still
    # alive (a notebook keeps it): the lock must not wait for it to go.
    assert caught.value is not None
    with lock_directory(state):
        pass


def test_an_untaught_learner_adopts_only_a_clean_pool(tmp_path, digits):
    (x, y), _ = digits
    model = keras_dbal.gal_cnn((8, 8, 1), seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    with ActiveLearner(model, checkpoint_dir=tmp_path / "s") as learner:
        learner.checkpoint()
    stray = Pool(x[:50])
    stray.mark_labelled([1, 2, 3], [1, 2, 3])
    with pytest.raises(CheckpointError, match="does not know of"):
        ActiveLearner.load(tmp_path / "s", pool=stray)
    clean = Pool(x[:50])
    resumed = ActiveLearner.load(tmp_path / "s", pool=clean)
    assert resumed.pool_ == clean.identity()


def test_load_refuses_another_checkpoint_dir(taught, tmp_path):
    learner, _, state = taught
    learner.close()
    with pytest.raises(ValueError, match="continues the state directory"):
        ActiveLearner.load(state, checkpoint_dir=tmp_path / "elsewhere")


def test_peek_reads_past_damage_without_moving_it_or_the_lock(taught):
    learner, _, state = taught  # the learner holds the lock
    newest = folders.latest(state)
    with open(state / newest / "arrays.npz", "ab") as file:
        file.write(b"damage")
    before = snapshot(state)
    peeked = checkpoint.peek_checkpoint(state, ("y_labelled",))
    assert peeked.name == folders.checkpoints(state)[-2]
    np.testing.assert_array_equal(peeked.arrays["y_labelled"],
                                  learner.y_labelled_)
    assert peeked.model is None and peeked.lock is None
    assert snapshot(state) == before
