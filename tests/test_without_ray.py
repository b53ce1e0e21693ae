"""Without the ray extra: keras_dbal, its CLI and `--ray`'s message."""

import subprocess
import sys

import pytest

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
