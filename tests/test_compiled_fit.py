import keras
import numpy as np
import pytest

import keras_dbal
import keras_dbal.training.refit as refit
from keras_dbal.training.compiled_fit import CompiledFit
from keras_dbal.training.compiled_fit import epoch_orders

BATCH = 8


def compiled_cnn(num_labelled):
    keras.utils.set_random_seed(0)
    model = keras_dbal.gal_cnn(
        (8, 8, 1), seed=0, weight_decay=3.5, num_labelled=num_labelled
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def reference_fit(model, x, y, orders):
    """Keras's own per-batch path: `train_on_batch` over the same order."""
    for order in orders:
        for start in range(0, len(x), BATCH):
            positions = order[start:start + BATCH]
            model.train_on_batch(x[positions], y[positions])


def assert_same_state(model, reference):
    for ours, theirs in zip(model.variables, reference.variables,
                            strict=True):
        np.testing.assert_allclose(
            np.asarray(ours), np.asarray(theirs), rtol=0, atol=1e-5,
            err_msg=ours.path,
        )
    for ours, theirs in zip(model.optimizer.variables,
                            reference.optimizer.variables, strict=True):
        np.testing.assert_allclose(
            np.asarray(ours), np.asarray(theirs), rtol=1e-4, atol=1e-7,
            err_msg=ours.path,
        )


def test_one_call_equals_keras_batch_by_batch(digits):
    num_items = 21  # two full batches of 8 and a last one of 5
    (x, y), _ = digits
    x, y = x[:num_items], y[:num_items]
    orders = epoch_orders(3, num_items, epochs=2)
    model, reference = compiled_cnn(num_items), compiled_cnn(num_items)
    CompiledFit(model, BATCH)(x, y, orders)
    reference_fit(reference, x, y, orders)
    assert_same_state(model, reference)
    # The fit moved the weights, and the seed generators, as Keras's did.
    fresh = compiled_cnn(num_items)
    assert not np.allclose(
        np.asarray(model.trainable_variables[0]),
        np.asarray(fresh.trainable_variables[0]),
    )


def test_a_second_fit_sees_the_new_weight_decay_and_optimizer(digits):
    (x, y), _ = digits
    model, reference = compiled_cnn(16), compiled_cnn(16)
    fit = CompiledFit(model, BATCH)
    for size, seed in ((16, 1), (27, 2)):  # no partial batch, then one
        # A new labelled count changes c / N and recompiles the model (a
        # new optimizer object): the same CompiledFit must not train with
        # the old ones.
        for each in (model, reference):
            refit.prepare_fit(each, size)
        orders = epoch_orders(seed, size, epochs=1)
        fit(x[:size], y[:size], orders)
        reference_fit(reference, x[:size], y[:size], orders)
    assert_same_state(model, reference)


def test_epoch_orders_are_seeded_permutations():
    orders = epoch_orders(7, 50, epochs=4)
    assert orders.shape == (4, 50) and orders.dtype == np.int32
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), np.arange(50))
    assert not np.array_equal(orders[0], orders[1])
    np.testing.assert_array_equal(orders, epoch_orders(7, 50, epochs=4))


def test_orders_must_match_the_labelled_set(digits):
    (x, y), _ = digits
    fit = CompiledFit(compiled_cnn(10), BATCH)
    with pytest.raises(ValueError, match=r"\(epochs, 10\)"):
        fit(x[:10], y[:10], epoch_orders(0, 9, 2))


def test_lockstep_runs_equal_separate_runs(digits):
    from keras_dbal.training.compiled_fit import LockstepFit

    (x, y), _ = digits
    size, runs = 19, 2
    rng = np.random.default_rng(0)
    picks = [rng.choice(len(x), size, replace=False) for _ in range(runs)]
    orders = np.stack(
        [epoch_orders(run, size, epochs=2) for run in range(runs)]
    )

    def model_for(run):
        keras.utils.set_random_seed(run)
        model = keras_dbal.gal_cnn(
            (8, 8, 1), seed=run, weight_decay=3.5, num_labelled=size
        )
        model.compile(optimizer="adam",
                      loss="sparse_categorical_crossentropy")
        return model

    together = [model_for(run) for run in range(runs)]
    LockstepFit(together, BATCH)(
        np.stack([x[p] for p in picks]), np.stack([y[p] for p in picks]),
        orders,
    )
    for run in range(runs):
        alone = model_for(run)
        CompiledFit(alone, BATCH)(x[picks[run]], y[picks[run]], orders[run])
        assert_same_state(together[run], alone)
    # The runs are not one run K times: their weights differ.
    assert not np.allclose(
        np.asarray(together[0].trainable_variables[0]),
        np.asarray(together[1].trainable_variables[0]),
    )


def test_model_fit_in_drawn_orders_equals_one_call(digits):
    # The learner's model.fit and the engine's compiled call train on the
    # same epoch orders, so they reach the same weights.
    num_items = 21
    (x, y), _ = digits
    x, y = x[:num_items], y[:num_items]
    model, reference = compiled_cnn(num_items), compiled_cnn(num_items)
    history = refit.fit(
        reference, x, y, {"epochs": 3, "batch_size": BATCH, "verbose": 0},
        seed=5,
    )
    assert len(history.history["loss"]) == 3
    CompiledFit(model, BATCH)(x, y, epoch_orders(5, num_items, epochs=3))
    assert_same_state(model, reference)


_LONG_FIT = """
import signal
import sys
# As in a terminal, whatever the parent ignores (a shell's background job
# starts with SIGINT ignored).
signal.signal(signal.SIGINT, signal.default_int_handler)
import numpy as np
from keras_dbal.training.compiled_fit import {fit}, epoch_orders
from tests.test_compiled_fit import compiled_cnn

x = np.random.default_rng(0).random((16, 8, 8, 1), dtype="float32")
y = np.arange(16) % 10
models = [compiled_cnn(16) for _ in range({runs})]
if {runs} == 1:
    fit = CompiledFit(models[0], 16)
    orders = [epoch_orders(0, 16, 1), epoch_orders(0, 16, 100_000)]
else:
    fit = LockstepFit(models, 16)
    x, y = np.stack([x] * {runs}), np.stack([y] * {runs})
    orders = [np.stack([epoch_orders(r, 16, e) for r in range({runs})])
              for e in (1, 100_000)]
fit(x, y, orders[0])  # traced and compiled: the long fit below is not
print("fitting", flush=True)
try:
    fit(x, y, orders[1])
except KeyboardInterrupt:
    steps = [int(m.optimizer.iterations.numpy()) for m in models]
    print("stopped", steps, flush=True)
    sys.exit(3)
"""


@pytest.mark.slow
@pytest.mark.jax
@pytest.mark.parametrize("fit,runs", [("CompiledFit", 1), ("LockstepFit", 2)])
def test_ctrl_c_stops_a_long_fit_between_epochs(fit, runs, tmp_path):
    # 100,001 one-step epochs: minutes on any machine. A fit compiled as
    # one call would hear Ctrl-C only at its end; ours stops within an
    # epoch, and the models keep the epochs they finished.
    import os
    import pathlib
    import select
    import signal
    import subprocess
    import sys
    import time

    with open(tmp_path / "stderr", "w+") as err, subprocess.Popen(
        [sys.executable, "-c", _LONG_FIT.format(fit=fit, runs=runs)],
        cwd=pathlib.Path(__file__).parents[1], stdout=subprocess.PIPE,
        stderr=err, text=True, env=dict(os.environ),
    ) as process:
        try:
            ready, _, _ = select.select([process.stdout], [], [], 300)
            assert ready, "the child never started its long fit"
            assert process.stdout.readline().strip() == "fitting"
            time.sleep(2)
            process.send_signal(signal.SIGINT)
            out, _ = process.communicate(timeout=120)
        finally:
            process.kill()
        err.seek(0)
        assert process.returncode == 3, err.read()[-2000:]
    steps = [int(s) for s in out.split("[")[1].split("]")[0].split(",")]
    # 1 step from the warm-up fit, then some of the long one, not all.
    assert all(1 < step < 100_001 for step in steps), steps
    assert len(set(steps)) == 1


def test_a_second_ctrl_c_raises_at_once_and_the_handler_comes_back():
    import signal

    from keras_dbal.utils.interrupts import deferred_interrupt

    # As in a terminal, even where the test runner ignores SIGINT.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _second_ctrl_c(deferred_interrupt)
    finally:
        signal.signal(signal.SIGINT, previous)


def _second_ctrl_c(deferred_interrupt):
    import signal

    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupt() as stop:
            signal.raise_signal(signal.SIGINT)
            assert stop.interrupted  # heard, not raised
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # Leaving the context after one Ctrl-C raises it; without one, nothing.
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupt():
            signal.raise_signal(signal.SIGINT)
    with deferred_interrupt() as stop:
        stop.check()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
