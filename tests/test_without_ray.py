"""Without the ray extra: keras_dbal, its CLI and `--ray`'s message."""

import subprocess
import sys

import keras
import pytest

import keras_dbal

pytestmark = pytest.mark.backend_independent

# A process in which `ray` cannot be imported, as without the extra.
_NO_RAY = "import sys; sys.modules['ray'] = None; "


def _python(code):
    return subprocess.run([sys.executable, "-c", _NO_RAY + code],
                          capture_output=True, text=True)


def test_keras_dbal_imports_no_ray():
    done = subprocess.run(
        [sys.executable, "-c",
         "import sys, keras_dbal, keras_dbal.experiments, "
         "keras_dbal.tools.cli; print('ray' in sys.modules)"],
        capture_output=True, text=True, check=True,
    )
    assert done.stdout.strip() == "False"


def test_ray_says_how_to_install_it(tmp_path):
    done = _python(
        "from keras_dbal.tools.cli import main; "
        f"sys.exit(main(['run', '--ray', 'auto', '--out', '{tmp_path}']))"
    )
    assert done.returncode == 2, done.stderr
    assert 'pip install "keras-dbal[ray]"' in done.stderr
    assert "Traceback" not in done.stderr
    assert not any(tmp_path.iterdir())  # refused before any work


def test_run_experiment_on_ray_says_how_to_install_it(tmp_path):
    done = _python(
        "from keras_dbal.experiments import ExperimentConfig, "
        "run_experiment\n"
        "from keras_dbal.datasets.loaders import load_digits\n"
        "try:\n"
        "    run_experiment(load_digits(), ExperimentConfig(), "
        f"state_dir='{tmp_path}', ray='auto')\n"
        "except ModuleNotFoundError as error:\n"
        "    print(error)\n"
    )
    assert 'pip install "keras-dbal[ray]"' in done.stdout, done.stderr


@pytest.fixture
def no_ray(monkeypatch):
    """`ray` unimportable in this process: what is checked before Ray is
    needed gets its own error, anything later another one."""
    monkeypatch.setitem(sys.modules, "ray", None)


class _Unread:
    """A dataset whose schema is not known without reading it."""

    def schema(self):
        return None


@pytest.fixture(scope="module")
def cnn():
    from keras_dbal import gal_cnn

    return gal_cnn((8, 8, 1), num_classes=3, seed=0)


@pytest.mark.parametrize(("arguments", "match"), [
    ({"acquisition": "bald_ish"}, "bald_ish"),
    ({"chunk_size": 0}, "chunk_size"),
    ({"input_range": (1, 0)}, "input_range"),
    ({"mc_samples": -1}, "mc_samples"),
    ({"seed": 1.5}, "seed"),
    ({"workers": 0}, "workers"),
    ({"model": "no/such/model.keras"}, "path of a `.keras` file"),
    ({"model": __file__}, "path of a `.keras` file"),
    ({"deterministic": True}, "no MCDropout layer"),
    ({"logits": True}, "from_logits=True"),
    ({"dataset": [[0.0]]}, "Expected a Ray Dataset"),
])
def test_top_n_on_ray_checks_everything_before_ray(no_ray, cnn, arguments,
                                                   match):
    from keras_dbal import gal_cnn
    from keras_dbal.distributed import top_n_on_ray

    arguments = {"dataset": _Unread(), "model": cnn, "acquisition": "bald",
                 **arguments}
    if arguments.pop("deterministic", False):
        arguments["model"] = gal_cnn((8, 8, 1), num_classes=3,
                                     bayesian=False, seed=0)
    if arguments.pop("logits", False):  # its last Dense without softmax
        inputs = keras.Input((8, 8, 1))
        arguments["model"] = keras.Model(inputs, keras.layers.Dense(3)(
            keras.layers.Flatten()(keras_dbal.MCDropout(0.5)(inputs))))
    with pytest.raises(ValueError, match=match):
        top_n_on_ray(n=3, **arguments)


@pytest.mark.parametrize(("acquisition", "match"), [
    ("power_bald", "Expected a BatchBALD"),
    ("unbounded", "needs `num_candidates`"),
])
def test_batchbald_on_ray_refuses_what_it_cannot_run(no_ray, cnn,
                                                     acquisition, match):
    from keras_dbal.batch_acquisition import BatchBALD
    from keras_dbal.distributed import batchbald_on_ray

    if acquisition == "unbounded":
        acquisition = BatchBALD(num_candidates=None)
    with pytest.raises(ValueError, match=match):
        batchbald_on_ray(_Unread(), cnn, 4, acquisition=acquisition)


def test_images_at_refuses_no_positions(no_ray):
    from keras_dbal.distributed import images_at

    with pytest.raises(ValueError, match="empty"):
        images_at(None, [])
