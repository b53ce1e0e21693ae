import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

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
