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


# What each tutorial's smoke run must print, and the figures it promises.
PROMISES = {
    "beyond_one_machine.py": (
        "Same top 10 as one process: True", ["beyond_study.png"]
    ),
    "bald_active_learning.py": ("With 40 labels", ["bald_learning_curve.png"]),
    "batches_and_ensembles.py": (
        "picks are copies", ["batches_duplicates.png", "batches_ensembles.png"]
    ),
    "choosing_acquisition.py": (
        "Rank correlation", ["choosing_top_images.png", "choosing_curves.png"]
    ),
    "own_images_backbone.py": ("Taught 8 labels", ["own_images_auc.png"]),
    "scaling_up.py": ("Round 1: scored", ["scaling_up_time.png"]),
    "why_bayesian.py": (
        "epistemic",
        ["why_bayesian_predictive.png", "why_bayesian_passes.png"],
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=lambda path: path.name)
def test_tutorial_runs(path, tmp_path):
    result = subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "KERAS_DBAL_TUTORIAL_QUICK": "1",
             "KERAS_DBAL_TUTORIAL_OUT": str(tmp_path),
             "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    printed, figures = PROMISES[path.name]
    assert printed in result.stdout
    for figure in figures:
        assert (tmp_path / figure).read_bytes()[:4] == b"\x89PNG"


def test_every_tutorial_has_its_promises_listed():
    assert sorted(PROMISES) == [path.name for path in TUTORIALS]
