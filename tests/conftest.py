import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# One pytest-xdist worker per core: on a machine with a GPU, none may take
# all of its memory up front.
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


def _start_quietly():
    """Import keras_dbal and its backend with fd 2 captured, then pass on
    what `keras_dbal._quiet` keeps: pytest-xdist's workers start with
    stderr uncaptured, and TensorFlow's start-up notes ignore
    TF_CPP_MIN_LOG_LEVEL."""
    import sys
    import tempfile

    sys.stderr.flush()
    saved, capture = os.dup(2), tempfile.TemporaryFile()
    os.dup2(capture.fileno(), 2)
    keep = bytes
    try:
        from keras_dbal import _quiet

        keep = _quiet.keep_lines
        _quiet.start_backend_quietly()
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        capture.seek(0)
        os.write(2, keep(capture.read()))
        capture.close()


_start_quietly()

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fixed_seed():
    keras.utils.set_random_seed(1234)
    yield
    keras.backend.clear_session()


@pytest.fixture(scope="session")
def digits():
    from keras_dbal.datasets.loaders import load_digits

    return load_digits()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def requires_backend(name):
    return pytest.mark.skipif(
        keras.backend.backend() != name,
        reason=f"needs the {name} backend",
    )
