"""Every tutorial runs top to bottom (shrunk), as keras-io renders them."""

import os
import pathlib
import subprocess
import sys

import pytest

# File formats, commands and checks that do not depend on the Keras
# backend: CI runs this module under TensorFlow only.
pytestmark = pytest.mark.backend_independent

ROOT = pathlib.Path(__file__).parent.parent
TUTORIALS = sorted(ROOT.joinpath("tutorials").glob("*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=lambda path: path.name)
def test_tutorial_runs(path):
    result = subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "KERAS_DBAL_TUTORIAL_QUICK": "1",
             "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "With 40 labels" in result.stdout


def test_there_is_a_tutorial():
    assert TUTORIALS
