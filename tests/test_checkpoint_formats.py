"""Checkpoint formats: every state directory a release wrote loads in later
ones, and a format change upgrades it in place.

`tests/data/state-format-N/` was written by the release whose format is N
(`python -m tests.state_fixture`, which also recorded what a load gives in
`state-format-N.json`). There is one format so far, so the upgrade path
is tested with a hypothetical next one (`tests/next_format.py`).
"""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_dbal import ActiveLearner
from keras_dbal import gal_cnn
from keras_dbal.active import learner_state
from keras_dbal.saving import checkpoint
from keras_dbal.saving import folders
from keras_dbal.saving import formats
from keras_dbal.saving.checkpoint import CheckpointError
from keras_dbal.saving.locking import LOCK_FILE
from tests import next_format
from tests import state_fixture
from tests.test_checkpoint import snapshot
from tests.test_locking import refuse_lock_files

DATA = pathlib.Path(__file__).parent / "data"
STORED = sorted(DATA.glob("state-format-*/"))
OLDEST = DATA / "state-format-1"


def expected(stored):
    return json.loads(stored.with_suffix(".json").read_text())


def format_of(folder):
    return json.loads((folder / "state.json").read_text())["format"]


def assert_loads_as_made(state, stored):
    """`state` loads as the learner `stored` held when it was made."""
    made = expected(stored)
    pool = state_fixture.pool()
    with ActiveLearner.load(state, pool=pool) as learner:
        assert learner.pool_indices_.tolist() == made["labelled"]
        assert learner.y_labelled_.tolist() == made["labels"]
        assert [e["indices"] for e in learner.history_] == made["queries"]
        np.testing.assert_array_equal(
            np.flatnonzero(pool.labelled_mask), sorted(made["labelled"])
        )
        next_query = learner.query(pool, n=5).tolist()
    assert next_query == made["next_query"][keras.backend.backend()]


def test_every_format_has_a_reader_and_an_upgrade_to_the_next():
    known = sorted(formats.READERS)
    assert known == list(range(known[0], formats.FORMAT + 1))
    assert sorted(formats.UPGRADES) == known[:-1]
    # A release never drops the reader of a state it once wrote.
    assert {int(path.name.rsplit("-", 1)[1]) for path in STORED} <= set(known)


def test_the_current_format_has_a_stored_state():
    assert DATA / f"state-format-{formats.FORMAT}" in STORED


@pytest.mark.parametrize("stored", STORED, ids=lambda path: path.name)
def test_a_stored_state_loads_as_it_was_made(stored, tmp_path):
    state = shutil.copytree(stored, tmp_path / "state")
    assert_loads_as_made(state, stored)
    newest = state / folders.latest(state)
    assert format_of(newest) == formats.FORMAT


def test_a_state_of_the_current_format_is_read_not_rewritten(tmp_path):
    stored = DATA / f"state-format-{formats.FORMAT}"
    state = shutil.copytree(stored, tmp_path / "state")
    ActiveLearner.load(state).close()
    after = snapshot(state)
    del after[LOCK_FILE]
    assert after == snapshot(stored)


def test_an_older_format_is_upgraded_in_place(tmp_path, monkeypatch):
    next_format.pretend(monkeypatch)
    state = shutil.copytree(OLDEST, tmp_path / "state")
    assert_loads_as_made(state, OLDEST)
    # The upgraded checkpoint is the newest; the old one stays beside it
    # as the fallback, byte for byte.
    assert folders.checkpoints(state) == ["ckpt-00000003", "ckpt-00000004"]
    assert (state / folders.LATEST).read_text() == "ckpt-00000004"
    assert snapshot(state / "ckpt-00000003") == snapshot(
        OLDEST / "ckpt-00000003"
    )
    upgraded = state / "ckpt-00000004"
    saved = json.loads((upgraded / "state.json").read_text())
    assert saved["format"] == formats.FORMAT and saved["num_queries"] == 1
    with np.load(upgraded / "arrays.npz") as arrays:
        np.testing.assert_array_equal(
            arrays["labels_per_class"],
            np.bincount(expected(OLDEST)["labels"], minlength=10),
        )
    # Loaded again, it is the current format: nothing more is written.
    assert_loads_as_made(state, OLDEST)
    assert folders.checkpoints(state) == ["ckpt-00000003", "ckpt-00000004"]


def test_the_release_before_an_upgrade_refuses_it_saying_why(
    tmp_path, monkeypatch
):
    state = shutil.copytree(OLDEST, tmp_path / "state")
    with monkeypatch.context() as newer:
        next_format.pretend(newer)
        ActiveLearner.load(state).close()
    with pytest.raises(CheckpointError, match="Upgrade keras_dbal to load"):
        ActiveLearner.load(state)


def test_peek_reads_an_older_format_upgraded_in_memory_only(
    tmp_path, monkeypatch
):
    next_format.pretend(monkeypatch)
    state = shutil.copytree(OLDEST, tmp_path / "state")
    peeked = checkpoint.peek_checkpoint(state, ("labels_per_class",))
    assert peeked.record["num_queries"] == 1
    assert list(peeked.arrays) == ["labels_per_class"]
    assert learner_state.peek(state)["history"] == peeked.record["history"]
    assert snapshot(state) == snapshot(OLDEST)


def test_a_read_only_state_is_upgraded_in_memory_only(tmp_path,
                                                       monkeypatch):
    next_format.pretend(monkeypatch)
    state = shutil.copytree(OLDEST, tmp_path / "state")
    refuse_lock_files(monkeypatch)
    assert_loads_as_made(state, OLDEST)
    assert snapshot(state) == snapshot(OLDEST)


def test_a_failed_upgrade_moves_nothing(tmp_path, monkeypatch):
    next_format.pretend(monkeypatch)

    def broken(state, arrays):
        raise RuntimeError("a bug in the upgrade")

    monkeypatch.setitem(formats.UPGRADES, formats.FORMAT - 1, broken)
    state = shutil.copytree(OLDEST, tmp_path / "state")
    with pytest.raises(CheckpointError, match=(
        r"Cannot upgrade .*ckpt-00000003 from checkpoint format 1 to 2: "
        r"RuntimeError\('a bug in the upgrade'\)"
    )):
        ActiveLearner.load(state)
    after = snapshot(state)
    del after[LOCK_FILE]
    assert after == snapshot(OLDEST)


def test_records_read_every_folder_as_the_current_format(tmp_path,
                                                          monkeypatch):
    next_format.pretend(monkeypatch)
    state = shutil.copytree(OLDEST, tmp_path / "state")
    found = checkpoint.records(state)
    assert [record["num_queries"] for record in found] == [1, 1]
    assert [record["num_labelled"] for record in found] == [15, 15]
    assert learner_state.holds_labels(state)
    # One that cannot be read may hold labels: it counts as holding some.
    (state / "ckpt-00000003" / "state.json").write_text("{ half")
    assert checkpoint.records(state)[-1] is None
    assert snapshot(state / "ckpt-00000002") == snapshot(
        OLDEST / "ckpt-00000002"
    )


def test_an_untaught_learner_holds_no_labels(tmp_path):
    model = gal_cnn((8, 8, 1), seed=0, filters=2, dense_units=4)
    model.compile("adam", "sparse_categorical_crossentropy")
    with ActiveLearner(model, checkpoint_dir=tmp_path / "s") as learner:
        learner.checkpoint()
    assert checkpoint.records(tmp_path / "s")[0]["num_labelled"] == 0
    assert not learner_state.holds_labels(tmp_path / "s")
    assert not learner_state.holds_labels(tmp_path / "missing")


def upgrade_worker(state, kill_at):
    return subprocess.run(
        [sys.executable, "-m", "tests.state_worker", "upgrade", str(state),
         str(kill_at)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


# What reaches the disk, and when, is keras_dbal's code under every backend.
@pytest.mark.backend_independent
@pytest.mark.slow
def test_an_upgrade_killed_at_any_step_leaves_the_old_or_the_new(
    tmp_path, monkeypatch
):
    whole = shutil.copytree(OLDEST, tmp_path / "whole")
    done = upgrade_worker(whole, 0)
    assert done.returncode == 0, done.stderr[-3000:]
    steps = [json.loads(line) for line in done.stdout.splitlines()]
    # Kill before the upgrade's first write is synced, and before each
    # step that renames or removes anything in the state directory.
    kill_points = sorted({
        next(i for i, (name, *_) in enumerate(steps, 1) if name == "fsync"),
        *(i for i, (name, path, *_) in enumerate(steps, 1)
          if name != "fsync" and path.startswith(str(whole))),
    })
    assert len(kill_points) == 5, steps
    next_format.pretend(monkeypatch)
    newest_after_kill = set()
    for kill_at in kill_points:
        state = shutil.copytree(OLDEST, tmp_path / f"killed-{kill_at}")
        killed = upgrade_worker(state, kill_at)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
        assert len(killed.stdout.splitlines()) == kill_at
        newest = folders.latest(state)
        newest_after_kill.add(newest)
        if newest == "ckpt-00000003":
            assert snapshot(state / newest) == snapshot(OLDEST / newest)
        else:
            assert newest == "ckpt-00000004", kill_at
            assert format_of(state / newest) == formats.FORMAT
        assert_loads_as_made(state, OLDEST)
        assert format_of(state / folders.latest(state)) == formats.FORMAT
    assert newest_after_kill == {"ckpt-00000003", "ckpt-00000004"}
