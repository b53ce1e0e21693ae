import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import requires_backend

# A child process in which `import tensorflow` fails, as on a machine where
# it is not installed.
WITHOUT_TENSORFLOW = textwrap.dedent(
    """
    import importlib.abc
    import sys

    class NoTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ImportError("tensorflow is not installed here")
            return None

    sys.meta_path.insert(0, NoTensorFlow())

    import numpy as np
    import keras_dbal

    model = keras_dbal.gal_cnn((8, 8, 1), num_classes=3, seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    learner = keras_dbal.ActiveLearner(
        model, "bald", mc_samples=3, seed=0, fit_kwargs={"epochs": 1}
    )
    rng = np.random.default_rng(0)
    learner.teach(rng.random((9, 8, 8, 1)), np.arange(9) % 3)
    print(sorted(learner.query(rng.random((20, 8, 8, 1)), n=3).tolist()))
    """
)


@requires_backend("jax")
@pytest.mark.slow
@pytest.mark.jax
def test_jax_backend_needs_no_tensorflow():
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TENSORFLOW],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": "jax"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    chosen = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(set(chosen)) == 3
