import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# One pytest-xdist worker per core: on a machine with a GPU, none may take
# all of its memory up front.
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


def _share_jax_compilations():
    """Under JAX, most of the suite's time is XLA compiling the same few
    programs again for every new model. JAX's persistent cache, keyed by
    the program itself, lets the workers of one run (and the processes
    tests start) compile each once: a third off the JAX pass on 2 cores.
    The folder is this run's own: made by the controller, whose
    environment its workers inherit, and removed by it at the end."""
    if os.environ.get("KERAS_BACKEND") != "jax":
        return None
    if "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return None
    import tempfile

    folder = tempfile.mkdtemp(prefix="keras_dbal-tests-jax-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = folder
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    return folder


_JAX_CACHE = _share_jax_compilations()


# keras_dbal first: it starts the backend with TensorFlow's start-up notes
# off stderr (pytest-xdist's workers start with stderr uncaptured).
import keras_dbal  # noqa: E402, F401

# isort: split
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_collection_modifyitems(config, items):
    """The `slow` tests (whole loops, subprocesses, a Ray cluster) first,
    each group in its own order: the cores share them out while the short
    ones wait, instead of one core finishing a long test alone at the
    end of the run."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_unconfigure(config):
    # Only the process that made the folder removes it.
    if _JAX_CACHE:
        import shutil

        shutil.rmtree(_JAX_CACHE, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fixed_seed():
    keras.utils.set_random_seed(1234)
    yield
    # Without Keras's gc.collect(), which took 0.25-0.8 s after every
    # test (a quarter of the suite's time); Python's own collector runs.
    keras.backend.clear_session(free_memory=False)


@pytest.fixture(scope="session")
def digits():
    from keras_dbal.datasets.loaders import load_digits

    return load_digits()


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster of 2 CPUs for one test module, its address."""
    import logging

    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False,
             logging_level=logging.ERROR)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def requires_backend(name):
    return pytest.mark.skipif(
        keras.backend.backend() != name,
        reason=f"needs the {name} backend",
    )
