"""Training strategies: how the models of K runs are refitted together.

In the protocol of Gal et al. (2017) every run of an experiment holds the
same number of labels at the same round, so one round of all K runs can
be trained together. A strategy is an object with one method, `fit`; all
give the same weights (up to float rounding) because all train on the
same epoch orders, drawn from each run's seed (`epoch_orders`). The
strategies register here by name (`register`), and `choose("auto")` picks
one by device from `STRATEGY_BY_DEVICE`, which `benchmarks/engine.py`
measures (the README's "Fitting many runs" has the figures).

A new strategy is a module defining a `FitStrategy` subclass, registered
with `register(...)` and imported by `keras_dbal.training`, and a test.
"""

from keras_dbal import backend

__all__ = [
    "STRATEGIES",
    "STRATEGY_BY_DEVICE",
    "FitStrategy",
    "choose",
    "register",
]


class FitStrategy:
    """How K compiled models, each on its own labelled set, are refitted.

    Subclasses set `name` and implement `fit`; `refusal` says when they
    cannot fit what they are given (a compiled fit reproduces only part
    of `model.fit`).
    """

    name = None

    def refusal(self, models, fit_kwargs):
        """Why this strategy cannot fit these models, or None.

        Args:
            models: The K compiled models.
            fit_kwargs: Their K `model.fit` arguments.
        """
        return None

    def fit(self, models, xs, ys, seeds, fit_kwargs):
        """Fit model k on `(xs[k], ys[k])` in place, its epochs in the
        orders `epoch_orders(seeds[k], len(xs[k]), epochs)`.

        Args:
            models: K compiled models, ready to fit (see
                `keras_dbal.training.refit.prepare_fit`).
            xs, ys: K labelled sets of one size.
            seeds: K integer seeds (or None) of the epoch orders and of
                Keras's global random generator.
            fit_kwargs: K dicts of `model.fit` arguments.
        """
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"


# Every registered strategy by name, in the order of registration.
STRATEGIES = {}


def register(strategy):
    """Add a strategy to `STRATEGIES` under its `name`.

    Args:
        strategy: A `FitStrategy` instance with a `name`.

    Returns:
        `strategy`, so a module can register where it defines it.
    """
    if not isinstance(strategy, FitStrategy) or not strategy.name:
        raise ValueError(
            "Invalid value received for argument `strategy`. Expected a "
            f"named FitStrategy instance. Received: strategy={strategy!r}"
        )
    STRATEGIES[strategy.name] = strategy
    return strategy


# The fastest strategy per device and backend, from benchmarks/engine.py
# (first calls, which every round pays; README, "Fitting many runs"). The
# GPU entries are not measured yet: lockstep is how a GPU runs the small
# fits side by side, and benchmarks/device_run.sh measures before it
# chooses.
STRATEGY_BY_DEVICE = {
    ("cpu", "tensorflow"): "lockstep",
    ("cpu", "jax"): "compiled",
    ("gpu", "tensorflow"): "lockstep",
    ("gpu", "jax"): "lockstep",
}


def choose(strategy="auto"):
    """The name of the strategy `fit_together` uses on this device.

    Args:
        strategy: `"auto"` or a name in `STRATEGIES`.
    """
    if strategy == "auto":
        device = "gpu" if backend.has_accelerator() else "cpu"
        return STRATEGY_BY_DEVICE.get((device, backend.name()), "sequential")
    if strategy not in STRATEGIES:
        raise ValueError(
            "Invalid value received for argument `strategy`: expected "
            f"'auto' or one of {list(STRATEGIES)}. Received: "
            f"strategy={strategy!r}"
        )
    return strategy
