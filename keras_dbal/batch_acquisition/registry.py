"""Names, settings and resolution of acquisitions, batch or not."""

from keras_dbal import acquisition as acquisition_lib
from keras_dbal import acquisition_registry
from keras_dbal.batch_acquisition.batchbald import BatchBALD
from keras_dbal.batch_acquisition.stochastic import StochasticBatch

__all__ = [
    "all_names",
    "from_settings",
    "get",
    "is_batch",
    "name_of",
    "names",
    "scores_with",
    "settings",
]

_CLASSES = {"BatchBALD": BatchBALD, "StochasticBatch": StochasticBatch}


def names():
    """The registered batch acquisition names, sorted (see
    `keras_dbal.acquisition_registry`)."""
    return acquisition_registry.names(batch=True)


def all_names():
    """Every registered acquisition name, single-image and batch, sorted."""
    return acquisition_registry.names()


def is_batch(acquisition):
    """Whether `acquisition` chooses a batch: an object (not a class) with
    a `select` method (see `keras_dbal.batch_acquisition`)."""
    return not isinstance(acquisition, type) and callable(
        getattr(acquisition, "select", None)
    )


def get(identifier):
    """A batch acquisition, or a single-image function, from an identifier.

    Args:
        identifier: A name in `all_names()`, a batch acquisition object, or
            a function `(T, N, C) -> (N,)`.

    Returns:
        A new object for a batch name; otherwise what
        `keras_dbal.acquisition.get` returns.
    """
    if is_batch(identifier):
        return identifier
    if isinstance(identifier, type):
        raise ValueError(
            "Invalid value received for argument `acquisition`. Expected a "
            "batch acquisition object, not its class. Received: "
            f"acquisition={identifier.__name__} (did you mean "
            f"{identifier.__name__}()?)"
        )
    if isinstance(identifier, str) and identifier in names():
        return acquisition_registry.make(identifier)
    if isinstance(identifier, str) and identifier not in (
        acquisition_lib.names()
    ):
        raise ValueError(
            "Invalid value received for argument `acquisition`. Expected a "
            f"callable, a batch acquisition or one of {all_names()}. "
            f"Received: acquisition={identifier!r}"
        )
    return acquisition_lib.get(identifier)


def name_of(acquisition):
    """The name of an acquisition function or batch acquisition."""
    if is_batch(acquisition):
        return getattr(acquisition, "name", type(acquisition).__name__)
    return acquisition_lib.name_of(acquisition)


def scores_with(acquisition):
    """The registered name of the single-image function whose scores an
    acquisition reads (its own for a single-image function), or None when
    it is not a registered one."""
    if is_batch(acquisition):
        function = getattr(acquisition, "function", None)
        if function is not None:  # StochasticBatch: what it wraps
            return scores_with(function)
        return getattr(acquisition, "scores_with", None)
    name = acquisition_lib.name_of(acquisition)
    registered = name in acquisition_lib.names()
    if registered and acquisition_lib.get(name) is acquisition:
        return name
    return None


def settings(acquisition):
    """A JSON-ready description of a batch acquisition, or None when it
    is not one of this module's classes (a custom object)."""
    cls = type(acquisition).__name__
    if _CLASSES.get(cls) is not type(acquisition):
        return None
    if cls == "StochasticBatch" and scores_with(acquisition.function) is None:
        return None  # scores with a custom function
    return {"class_name": cls, "config": acquisition.get_config()}


def from_settings(description):
    """The batch acquisition `settings` described."""
    return _CLASSES[description["class_name"]].from_config(
        description["config"]
    )
