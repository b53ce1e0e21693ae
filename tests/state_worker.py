"""Processes that tests kill or race on one state directory.

Usage:
    python -m tests.state_worker hold DIR
        Take DIR's lock as the labelling commands do, print "locked",
        then sleep until killed.
    python -m tests.state_worker teach STATE KILL_BEFORE_LATEST
        Start a learner on STATE (or load it), teach one round from the
        digits pool and print the taught positions, one JSON line per
        teach. With KILL_BEFORE_LATEST=1 the process SIGKILLs itself at
        the next save, after the checkpoint folder is renamed into place
        and before LATEST is replaced.
    python -m tests.state_worker query STATE N KILL_AT
        `keras-dbal query --state STATE --n N`, SIGKILLed (if KILL_AT is
        not empty) as it renames the first temporary file whose target
        ends with KILL_AT into place: the file is written, not yet there.
    python -m tests.state_worker upgrade STATE KILL_AT
        Load STATE as a release one checkpoint format newer
        (tests/next_format.py), which upgrades it in place, and print each
        file system step of the load (a file or folder fsynced, renamed
        or removed) as a JSON line. With KILL_AT > 0 the process SIGKILLs
        itself just before step KILL_AT.
"""

import json
import os
import shutil
import signal
import sys
import time

import pytest

from keras_dbal.active.learner import ActiveLearner
from keras_dbal.active.pool import Pool
from keras_dbal.datasets.loaders import load_digits
from keras_dbal.saving import checkpoint
from keras_dbal.saving.locking import lock_directory
from tests import next_format
from tests.resume_worker import start_or_continue


def hold(directory):
    lock = lock_directory(directory)
    print("locked", flush=True)
    while lock.owned:
        time.sleep(1)


def teach(state, kill_before_latest):
    (x, y), _ = load_digits()
    pool = Pool(x[:150], y[:150])
    learner, first = start_or_continue(state, pool, epochs=1)
    if first is not None:
        print(json.dumps(first.tolist()), flush=True)
    chosen = learner.query(pool, n=5)
    if kill_before_latest:
        def killed(path, text):
            os.kill(os.getpid(), signal.SIGKILL)

        checkpoint.write_atomically = killed
    print(json.dumps(chosen.tolist()), flush=True)
    learner.teach(pool, pool.oracle(chosen), indices=chosen)
    print(json.dumps({"labelled": learner.pool_indices_.tolist()}))


def query(state, n, kill_at):
    from keras_dbal.tools import labelling

    if kill_at:
        rename = os.replace

        def killed(source, target):
            if os.fspath(target).endswith(kill_at):
                os.kill(os.getpid(), signal.SIGKILL)
            rename(source, target)

        os.replace = killed
    print(labelling.query_session(state, n), flush=True)


def upgrade(state, kill_at):
    next_format.pretend(pytest.MonkeyPatch())
    steps = []

    def step(module, name):
        call = getattr(module, name)

        def counted(*args, **kwargs):
            steps.append(name)
            print(json.dumps([name, *map(str, args[:2])]), flush=True)
            if len(steps) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return call(*args, **kwargs)

        setattr(module, name, counted)

    for name in ("fsync", "rename", "replace"):
        step(os, name)
    step(shutil, "rmtree")
    ActiveLearner.load(state).close()


if __name__ == "__main__":
    if sys.argv[1] == "upgrade":
        upgrade(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "hold":
        hold(sys.argv[2])
    elif sys.argv[1] == "query":
        query(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        teach(sys.argv[2], sys.argv[3] == "1")
