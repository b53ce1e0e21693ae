"""The one registry of named acquisitions, single-image and batch.

Each entry says where its acquisition lives (`"module:attribute"`), not
the object itself: listing the names (the command line's `--help`) starts
no Keras backend, and `make(name)` imports the acquisition on first use.
A new acquisition is its module (or function), one entry here, and a
test.

Single-image entries name a function `(T, N, C) -> (N,)` (see
`keras_dbal.acquisition`); batch entries name a class that
`keras_dbal.batch_acquisition` documents, with the keyword arguments that
make the registered object. `needs_model=False` marks a score that reads
no prediction (`random`): the learner then scores its candidates without
running the model.
"""

import dataclasses
import importlib

__all__ = ["Entry", "REGISTRY", "make", "names", "needs_model"]


@dataclasses.dataclass(frozen=True)
class Entry:
    """A registered acquisition.

    Args:
        target: `"module:attribute"` of the function or batch class.
        batch: Whether `target` is a batch acquisition class.
        arguments: Keyword arguments of the batch class, as pairs.
        needs_model: Whether the scores read the model's predictions.
    """

    target: str
    batch: bool = False
    arguments: tuple = ()
    needs_model: bool = True

    def load(self):
        """The function, or a new batch acquisition object."""
        module, attribute = self.target.split(":")
        found = getattr(importlib.import_module(module), attribute)
        return found(**dict(self.arguments)) if self.batch else found


def _score(function, **options):
    return Entry(f"keras_dbal.acquisition:{function}", **options)


def _stochastic(mode):
    return Entry(
        "keras_dbal.batch_acquisition.stochastic:StochasticBatch",
        batch=True, arguments=(("acquisition", "bald"), ("mode", mode)),
    )


REGISTRY = {
    "bald": _score("bald"),
    "least_confidence": _score("least_confidence"),
    "margin": _score("margin"),
    "max_entropy": _score("max_entropy"),
    "mean_std": _score("mean_std"),
    "random": _score("random", needs_model=False),
    "variation_ratios": _score("variation_ratios"),
    "batchbald": Entry(
        "keras_dbal.batch_acquisition.batchbald:BatchBALD", batch=True
    ),
    "power_bald": _stochastic("power"),
    "softmax_bald": _stochastic("softmax"),
    "softrank_bald": _stochastic("softrank"),
}


def names(*, batch=None):
    """Registered names, sorted.

    Args:
        batch: None for all, True for batch acquisitions only, False for
            single-image functions only.
    """
    return sorted(
        name for name, entry in REGISTRY.items()
        if batch is None or entry.batch == batch
    )


def needs_model(acquisition):
    """Whether `acquisition`'s scores read the model's predictions.

    False only for a registered function marked `needs_model=False`
    (`random`), or a batch acquisition whose `needs_model` is False.

    Args:
        acquisition: An acquisition function or batch acquisition object.
    """
    if not callable(acquisition):
        return bool(getattr(acquisition, "needs_model", True))
    return not any(
        not entry.needs_model and not entry.batch
        and entry.load() is acquisition
        for entry in REGISTRY.values()
    )


def make(name):
    """The registered function, or a new batch acquisition, named `name`.

    Args:
        name: A name in `names()`.

    Raises:
        KeyError: `name` is not registered.
    """
    return REGISTRY[name].load()
