"""A scope through which the MC sampler supplies MCDropout's masks.

`MCDropout` normally draws its masks from its own `SeedGenerator`. The sampler
needs more control than that: masks drawn from a seed it passes into a
compiled function (so nothing is retraced and nothing mutates layer state
inside `jax.jit`), the T Monte Carlo samples folded into the batch dimension,
and, for BatchBALD, masks shared by every pool item. While a `MaskScope` is
active, every `MCDropout` call hands its input to the scope instead.
"""

import threading

_local = threading.local()


class MaskScope:
    """Route `MCDropout` calls to `apply_fn` while the scope is active.

    Args:
        apply_fn: callable `(layer, inputs) -> outputs` applied in place of
            the layer's own dropout.
    """

    def __init__(self, apply_fn):
        self.apply_fn = apply_fn

    def apply(self, layer, inputs):
        return self.apply_fn(layer, inputs)

    def __enter__(self):
        _stack().append(self)
        return self

    def __exit__(self, *exc_info):
        _stack().pop()


def _stack():
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def current_scope():
    """The innermost active `MaskScope`, or `None`."""
    stack = _stack()
    return stack[-1] if stack else None
