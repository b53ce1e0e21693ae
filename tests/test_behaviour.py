"""Queries and test errors of a seeded loop, pinned before a refactor.

The stored files were written by `python -m tests.behaviour_worker
--write` under each backend. A change that means to alter behaviour
rewrites them and says so in the changelog; a refactor must not.
"""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

STORE = pathlib.Path(__file__).parent / "data"


@pytest.mark.slow
@pytest.mark.jax
def test_seeded_loop_matches_the_stored_behaviour():
    backend = keras.backend.backend()
    with open(STORE / f"behaviour-{backend}.json") as file:
        expected = json.load(file)
    result = subprocess.run(
        [sys.executable, "-m", "tests.behaviour_worker"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout)
    assert found.keys() == expected.keys()
    for name, pinned in expected.items():
        assert found[name]["queries"] == pinned["queries"], name
        # Identical arithmetic gives identical numbers; the tolerance only
        # absorbs float printing.
        np.testing.assert_allclose(found[name]["error"], pinned["error"],
                                   atol=1e-9, err_msg=name)
        np.testing.assert_allclose(found[name]["nll"], pinned["nll"],
                                   rtol=1e-6, err_msg=name)
