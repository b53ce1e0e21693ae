"""What one checkpoint folder holds, in every format this release reads.

`keras_dbal.saving.checkpoint` keeps a state directory's numbered
checkpoint folders; this module writes one folder's files in the current
`FORMAT` and reads them back in any format it knows. Every format keeps
`state.json` with its `format` field, so a folder always says which
reader it needs. Each format has one reader (`READERS`); a checkpoint of
an older format is read by its own reader and brought to the current
format by the upgrades in turn (`UPGRADES[n]` takes format `n` to
`n + 1`), so a caller always gets the current format's fields and arrays.
A format newer than this release knows is refused, saying to upgrade
keras_dbal.

Format 1:

    model.keras   architecture, weights, optimizer, compile config
    arrays.npz    the caller's named arrays, and every model and optimizer
                  variable (seed generator states included) as
                  `variable_NNNNN` and `optimizer_NNNNN`
    state.json    format, keras_dbal_version, keras_version, backend,
                  settings, the caller's record fields, needs_fit, and
                  files: the size and SHA-256 of the two files above

To change the format: raise `FORMAT` and write the new one in `write`;
register its reader beside the old one's (sessions on disk are still in
the old format); add the upgrade from the old format to the new one; and
keep a state directory of the old format under `tests/data/` with a test
that loads it (see tests/test_checkpoint_formats.py).
"""

import dataclasses
import json
import os

import keras
import numpy as np

import keras_dbal.saving.folders as folders
from keras_dbal.saving.atomic import fsync_dir
from keras_dbal.saving.errors import CheckpointError
from keras_dbal.saving.errors import DamagedCheckpointError
from keras_dbal.utils.variables import assign_values
from keras_dbal.utils.variables import variable_values
from keras_dbal.version import __version__

__all__ = [
    "FORMAT",
    "OWN_FIELDS",
    "READERS",
    "UPGRADES",
    "Contents",
    "numbered",
    "read",
    "unnumbered",
    "write",
]

FORMAT = 1
# The fields of state.json the format owns; the rest is the caller's record.
OWN_FIELDS = frozenset({
    "format", "keras_dbal_version", "keras_version", "backend", "settings",
    "needs_fit", "files",
})
_CHECKSUMMED = ("model.keras", "arrays.npz")
_VARIABLES = ("variable_", "optimizer_")


@dataclasses.dataclass
class Contents:
    """One checkpoint folder, read as the current format.

    Attributes:
        state: Its `state.json` fields, upgraded.
        arrays: The caller's named arrays (those asked for), upgraded.
        model: The model, with its and its optimizer's variables restored;
            None where it was not asked for.
        saved_format: The format its files are in: older than `FORMAT`
            when it was upgraded as it was read.
    """

    state: dict
    arrays: dict
    model: object
    saved_format: int

    @property
    def settings(self):
        """The settings saved with it."""
        return dict(self.state["settings"])

    @property
    def record(self):
        """Every other field of the caller's (history, counters)."""
        return {
            key: value for key, value in self.state.items()
            if key not in OWN_FIELDS
        }

    @property
    def needs_fit(self):
        """Whether labels were added after the last fit."""
        return bool(self.state["needs_fit"])


def write(folder, model, *, settings, record, arrays, needs_fit):
    """Write a checkpoint's files into the empty `folder`, in `FORMAT`,
    each fsynced (see `keras_dbal.saving.checkpoint.save_checkpoint`)."""
    if model.optimizer is not None and not model.optimizer.built:
        # Saved unbuilt, its 2 variables would not match the built
        # optimizer that loading creates, and Keras would skip them.
        model.optimizer.build(model.trainable_variables)
    model.save(os.path.join(folder, "model.keras"))
    arrays = dict(arrays)
    arrays.update(numbered("variable", variable_values(model.variables)))
    if model.optimizer is not None:
        arrays.update(
            numbered("optimizer", variable_values(model.optimizer.variables))
        )
    np.savez(os.path.join(folder, "arrays.npz"), **arrays)
    state = {
        "format": FORMAT,
        "keras_dbal_version": __version__,
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "settings": settings,
        **record,
        "needs_fit": bool(needs_fit),
        "files": {
            filename: folders.describe_file(os.path.join(folder, filename))
            for filename in _CHECKSUMMED
        },
    }
    with open(os.path.join(folder, "state.json"), "w") as file:
        json.dump(state, file, indent=1)
    for filename in os.listdir(folder):
        folders.fsync_file(os.path.join(folder, filename))
    fsync_dir(folder)


def read(folder, *, required=(), keys=None, model=True, verify=True):
    """One checkpoint folder as the current format, whatever its own.

    Args:
        folder: The checkpoint folder.
        required: Record fields the caller needs: a checkpoint without one
            counts as damaged.
        keys: The arrays to read; None for all of them.
        model: Whether to load the model.
        verify: Whether to check the files against the sizes and SHA-256
            they were saved with first.

    Returns:
        The folder's `Contents`.

    Raises:
        DamagedCheckpointError: what the checkpoint's own record proves:
            `state.json` unreadable, a file missing or not as it was
            saved, a field missing.
        CheckpointError: a format this release does not read, an upgrade
            that failed, or files that match their record yet do not
            load (out of memory, a custom layer not imported).
    """
    path = os.path.join(folder, "state.json")
    state = _read_state(path)
    saved = state.get("format")
    if not _is_format(saved) or saved not in READERS:
        raise CheckpointError(_unknown_format(path, state))
    arrays, loaded = READERS[saved](
        folder, state, keys=keys if saved == FORMAT else None, model=model,
        verify=verify,
    )
    for old in range(saved, FORMAT):
        try:
            state, arrays = UPGRADES[old](dict(state), dict(arrays))
        except Exception as error:
            raise CheckpointError(
                f"Cannot upgrade {folder} from checkpoint format {old} to "
                f"{old + 1}: {error!r}. Nothing was changed."
            ) from error
        state["format"] = old + 1
    missing = sorted({"settings", "needs_fit", *required} - state.keys())
    if missing:
        raise DamagedCheckpointError(f"{path} lacks the fields {missing}.")
    if keys is not None:
        arrays = {key: arrays[key] for key in keys}
    return Contents(state, arrays, loaded, saved)


def _read_state(path):
    try:
        with open(path) as file:
            state = json.load(file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DamagedCheckpointError(f"Cannot read {path}: {error}") from None
    if not isinstance(state, dict):
        raise DamagedCheckpointError(
            f"{path} does not hold a checkpoint's state."
        )
    return state


def _is_format(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _unknown_format(path, state):
    found = state.get("format")
    known = sorted(READERS)
    newer = _is_format(found) and found > FORMAT
    return (
        f"{path} has checkpoint format {found!r}, saved by keras_dbal "
        f"{state.get('keras_dbal_version', 'unknown')}; this keras_dbal "
        f"({__version__}) reads format{'s' if len(known) > 1 else ''} "
        f"{', '.join(map(str, known))}. "
        + ("Upgrade keras_dbal to load it." if newer else
           "Load it with the keras_dbal version that saved it.")
    )


def _read_format_1(folder, state, *, keys, model, verify):
    """`(arrays, model)` of a format 1 folder (see the module docstring).

    Damage is only what the checkpoint's own record proves: a file
    missing, or not the size and SHA-256 it was saved with. A file that
    matches its record but still fails to load is a `CheckpointError`,
    and nothing is moved. Checkpoints of earlier builds have no record; a
    file of theirs that cannot be read counts as damage.
    """
    recorded = state.get("files")
    if verify:
        for filename, expected in (recorded or {}).items():
            found = folders.describe_file(os.path.join(folder, filename))
            if found != expected:
                raise DamagedCheckpointError(
                    f"{os.path.join(folder, filename)} is damaged: "
                    f"{folders.difference(found, expected)}."
                )
    failure = CheckpointError if recorded else DamagedCheckpointError
    loaded = None
    if model:
        path = os.path.join(folder, "model.keras")
        try:
            loaded = keras.models.load_model(path)
        except Exception as error:  # zip, HDF5 and deserialization errors
            raise failure(f"Cannot load {path}: {error}") from None
    names = None if model else keys  # the model's variables are arrays
    arrays = {}
    if names is None or len(names):
        path = os.path.join(folder, "arrays.npz")
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {
                    key: archive[key]
                    for key in (archive.files if names is None else names)
                }
        except (KeyError, FileNotFoundError):
            # An array that was never saved; or the folder, read without
            # the lock, pruned by a writer meanwhile (peek_checkpoint
            # passes it over).
            raise
        except Exception as error:  # zip, format and OS errors alike
            raise failure(f"Cannot read {path}: {error}") from None
    if loaded is not None:
        _restore_variables(loaded, arrays, folder)
    return {
        key: value for key, value in arrays.items()
        if not key.startswith(_VARIABLES)
    }, loaded


def _restore_variables(model, arrays, folder):
    _assign(model.variables, unnumbered(arrays, "variable"), folder)
    optimizer_values = unnumbered(arrays, "optimizer")
    if optimizer_values:
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        _assign(model.optimizer.variables, optimizer_values, folder)


def _assign(variables, values, folder):
    variables = list(variables)
    if len(variables) != len(values):
        raise CheckpointError(
            f"The model in {folder} has {len(variables)} variables but the "
            f"checkpoint holds {len(values)}."
        )
    assign_values(variables, values)


def numbered(prefix, values):
    """`{prefix_00000: values[0], ...}`: a list of arrays as named arrays."""
    return {f"{prefix}_{i:05d}": value for i, value in enumerate(values)}


def unnumbered(arrays, prefix):
    """The list `numbered(prefix, ...)` stored, in order."""
    keys = sorted(key for key in arrays if key.startswith(prefix + "_"))
    return [arrays[key] for key in keys]


# Format -> `reader(folder, state, *, keys, model, verify)` returning
# `(arrays, model)`: the caller's arrays (all of them where `keys` is
# None) and the model with its variables restored (None unless `model`).
READERS = {1: _read_format_1}

# Format n -> `upgrade(state, arrays)` returning the `(state, arrays)` of
# format n + 1 (the `format` field is set after it). An upgrade leaves a
# field it cannot find alone: the check after the last one calls such a
# checkpoint damaged. The model is Keras's own format and is not upgraded.
UPGRADES = {}
