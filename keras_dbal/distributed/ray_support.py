"""Finding Ray, and connecting to a cluster."""

import importlib.util

__all__ = [
    "INSTALL", "check_address", "connect", "require_ray", "worker_options",
]

INSTALL = 'pip install "keras-dbal[ray]"'


def require_ray():
    """The `ray` module, or a `ModuleNotFoundError` saying how to install
    it."""
    if importlib.util.find_spec("ray") is None:
        raise ModuleNotFoundError(
            f"Running on Ray needs the ray extra, which is not installed: "
            f"{INSTALL}"
        )
    import ray

    return ray


def check_address(address):
    """Refuse what is neither `"auto"` nor an address string.

    Args:
        address: The `ray` argument of `run_experiment`.
    """
    if not isinstance(address, str) or not address.strip():
        raise ValueError(
            "Invalid value received for argument `ray`: expected 'auto' or "
            f"a cluster address. Received: ray={address!r}"
        )


def connect(address="auto"):
    """Connect to a Ray cluster (or use the one this process is already
    connected to) and return the `ray` module.

    Args:
        address: `"auto"`: the cluster `RAY_ADDRESS` names, else a new
            local one on this machine's cores (and GPUs); anything else:
            the address of a running cluster, as `ray.init(address=...)`
            takes it (`"ray://host:10001"`, `"host:6379"`). A process
            already connected keeps its cluster, whatever `address` says.
    """
    check_address(address)
    ray = require_ray()
    if not ray.is_initialized():
        if address != "auto":
            _check_reachable(address)
        import logging

        # Ray's start-up notes (its token authentication is on, ...) are
        # not failures; its errors still show.
        ray.init(
            address=None if address == "auto" else address,
            include_dashboard=False,
            logging_level=logging.ERROR,
        )
    return ray


def _check_reachable(address, seconds=5.0):
    """Refuse an address no cluster answers at within `seconds` (Ray
    itself retries for minutes, printing a warning every few seconds)."""
    import socket

    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(
            "Invalid value received for argument `ray`: expected 'auto' or "
            f"a cluster address HOST:PORT. Received: ray={address!r}"
        )
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except OSError as error:
        raise ValueError(
            f"No Ray cluster answers at {address} ({error}). Start one "
            "(`ray start --head`) or give `auto` for a local one."
        ) from None


def worker_options(ray):
    """What every keras_dbal task or actor asks Ray for: one GPU where the
    cluster has GPUs, and this process's Keras backend (TensorFlow's
    start-up notes off).

    Args:
        ray: The connected `ray` module.
    """
    import os

    from keras_dbal import backend

    return {
        "num_gpus": 1 if ray.cluster_resources().get("GPU", 0) else 0,
        "runtime_env": {"env_vars": {
            "KERAS_BACKEND": backend.name(),
            "TF_CPP_MIN_LOG_LEVEL": os.environ.get(
                "TF_CPP_MIN_LOG_LEVEL", "3"),
        }},
    }
