"""Labelling by a person: query to a contact sheet and CSV, teach from it.

A labelling session lives in one state directory:

    DIR/
      .lock               held by the one command working here
      session.json        number of classes, where the pool came from
      pool.npy            the unlabelled images, copied once
      learner/            the ActiveLearner's checkpoints (keras_dbal.saving)
      pending.json        the round waiting for labels, if any
      rounds/round-0003/  contact_sheet.png, images/*.png, labels.csv

`query` writes a CSV template with the columns `round, pool_index,
image_file, label` and an empty label column; `teach` reads it back once
filled. A round's `labels.csv` is written once and never again, so a
person may fill it in place: asking again while the round waits for
labels shows the same round. A CSV that does not answer the pending round
(rows missing, other rounds, unknown or repeated positions, labels outside
the classes) is refused with a message saying what is wrong, and nothing
in the directory changes; `partial=True` teaches the rows that are there
and keeps the rest of the round waiting. Every command holds the
directory's lock, so two at once get a clear error, never each other's
half-written files.
"""

import contextlib
import os
import warnings

import keras
import numpy as np

from keras_dbal.active.learner import ActiveLearner
from keras_dbal.active.pool import Pool
from keras_dbal.active.selection import derive_seed
from keras_dbal.active.selection import random_query
from keras_dbal.datasets.loaders import DataError
from keras_dbal.datasets.loaders import scale_images
from keras_dbal.models import gal_cnn
from keras_dbal.saving.folders import remove_temporaries
from keras_dbal.saving.locking import lock_directory
from keras_dbal.tools.contact_sheets import write_round
from keras_dbal.tools.label_files import CSV_COLUMNS
from keras_dbal.tools.label_files import LabelFileError
from keras_dbal.tools.label_files import LabelFileWarning
from keras_dbal.tools.label_files import read_labels
from keras_dbal.tools.label_files import read_template
from keras_dbal.tools.session_files import next_round
from keras_dbal.tools.session_files import read_json
from keras_dbal.tools.session_files import remove_unfinished_init
from keras_dbal.tools.session_files import save_array
from keras_dbal.tools.session_files import write_json
from keras_dbal.utils import validation

__all__ = [
    "CSV_COLUMNS",
    "LabelFileError",
    "init_session",
    "pending_round",
    "query_session",
    "read_labels",
    "teach_session",
]



def init_session(
    directory, pool_images, num_classes, *, acquisition="bald",
    mc_samples=20, epochs=50, batch_size=128, seed=0, source=None,
    max_value=None, names=None,
):
    """Create a labelling session around a new Bayesian `gal_cnn`.

    Args:
        directory: The state directory; must not hold a session yet.
        pool_images: The unlabelled images `(N, height, width, channels)`.
        num_classes: Number of classes a person may assign.
        acquisition, mc_samples, seed: As for `ActiveLearner`.
        epochs, batch_size: Passed to `model.fit`.
        source: Where the images came from, for the record.
        max_value: The pixel value that means white (see
            `keras_dbal.datasets.scale_images`).
        names: Each image's file name (a folder's pool): the round CSVs
            then name the files, and `teach` checks each row's file.
    """
    num_classes = validation.positive_int(num_classes, "num_classes")
    pool = Pool(scale_images(
        Pool(pool_images).x, "pool_images", max_value=max_value
    ), names=names)
    with _locked(directory, create=True):
        if os.path.exists(os.path.join(directory, "session.json")):
            raise ValueError(
                f"{directory} already holds a labelling session; query or "
                "teach it, or choose another directory."
            )
        remove_unfinished_init(os.path.join(directory, "learner"))
        save_array(os.path.join(directory, "pool.npy"), pool.x)
        keras.utils.set_random_seed(seed)
        model = gal_cnn(pool.x.shape[1:], num_classes, seed=seed)
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy"
        )
        with ActiveLearner(
            model, acquisition, mc_samples, seed=seed,
            fit_kwargs={"epochs": epochs, "batch_size": batch_size},
            checkpoint_dir=os.path.join(directory, "learner"),
        ) as learner:
            learner.checkpoint()
        # Written last: a session exists once everything it names does.
        write_json(
            os.path.join(directory, "session.json"),
            {"num_classes": num_classes, "source": source, "seed": seed,
             "pool": pool.identity(),
             "names": None if names is None else list(pool.names)},
        )
    return learner


def pending_round(directory):
    """`{"round", "indices"}` of the round waiting for labels, or None.

    Args:
        directory: The session's state directory.
    """
    return _read_pending(directory)


def query_session(directory, n):
    """Choose the next n images and write the sheet and CSV template.

    While a round waits for labels, that round is shown again (its CSV
    untouched, whatever n is) rather than a new one chosen. Before any
    label, the images are chosen at random (seeded): a model with nothing
    learned has no uncertainty worth following.

    Args:
        directory: The session's state directory.
        n: Images to choose.

    Returns:
        The path of the round's CSV.
    """
    n = validation.positive_int(n, "n")
    with _locked(directory):
        session, pool, learner = _open(directory)
        pending = _read_pending(directory)
        if pending is not None:
            _check_pending(directory, pending, pool)
        if pending is not None and pool.labelled_mask[
            pending["indices"]
        ].all():
            # Taught, but stopped before the pending note was removed.
            os.remove(os.path.join(directory, "pending.json"))
            pending = None
        if pending is None:
            if n > int((~pool.labelled_mask).sum()):
                raise ValueError(
                    f"Invalid value received for argument `n`: asked for "
                    f"{n} images but only {int((~pool.labelled_mask).sum())}"
                    " are unlabelled."
                )
            if learner.num_labelled == 0:
                chosen, _ = random_query(
                    pool.unlabelled_indices, n,
                    derive_seed(learner.seed or 0, "query", 0),
                )
                chosen = np.sort(chosen)
            else:
                chosen = learner.query(pool, n=n)
                learner.checkpoint()
            # Past every round folder, whatever the learner counts (an
            # older checkpoint after damage): a new round never reuses a
            # folder whose CSV a person may have filled.
            round_number = next_round(directory)
            pending = {"round": round_number, "indices": chosen.tolist()}
            write_json(os.path.join(directory, "pending.json"), pending)
        learner.close()
        return write_round(directory, pool, pending, _session_id(session))


def teach_session(directory, labels_csv, *, partial=False):
    """Teach the labels of a filled CSV template, then refit.

    Rows for images already taught (a CSV taught before, in part or in
    whole) are checked against what was taught and skipped.

    Args:
        directory: The session's state directory.
        labels_csv: The filled CSV.
        partial: Teach the rows that have labels even if others of the
            round are missing or blank; those stay waiting for labels.

    Raises:
        LabelFileError: the CSV does not answer the pending round (or,
            without `partial`, not all of it); nothing is changed.
    """
    with _locked(directory):
        session = _read_session(directory)
        pending = _read_pending(directory)
        if pending is None:
            raise LabelFileError(
                f"No round is waiting for labels in {directory}: every round "
                "queried so far is taught (a CSV taught twice changes "
                "nothing). Run `keras-dbal query` for a new round."
            )
        indices, labels = read_labels(
            labels_csv, pending, session["num_classes"],
            session=_session_id(session), allow_blank=partial,
            names=session.get("names"),
        )
        _, pool, learner = _open(directory)
        _check_pending(directory, pending, pool)
        taught = pool.labels_[indices]
        again = taught >= 0
        if (taught[again] != labels[again]).any():
            clash = np.flatnonzero(again & (taught != labels))[:10]
            raise LabelFileError(
                f"{labels_csv}: pool_index {indices[clash].tolist()} "
                f"{'was' if len(clash) == 1 else 'were'} already taught as "
                f"{taught[clash].tolist()}, not {labels[clash].tolist()}; "
                "a taught label cannot be changed."
            )
        indices, labels = indices[~again], labels[~again]
        answered = set(indices.tolist()) | set(
            np.flatnonzero(pool.labelled_mask).tolist()
        )
        missing = [i for i in pending["indices"] if i not in answered]
        if missing and not partial:
            raise LabelFileError(
                f"{labels_csv} labels {len(pending['indices']) - len(missing)}"
                f" of the {len(pending['indices'])} images of round "
                f"{pending['round']}; pool_index {missing[:20]} "
                f"{'has' if len(missing) == 1 else 'have'} no label. Label "
                "them too, or teach with partial=True (keras-dbal teach "
                "--partial) to teach these now and keep the rest waiting."
            )
        if len(indices):
            learner.teach(pool, labels, indices=indices)
        if not missing:
            os.remove(os.path.join(directory, "pending.json"))
        learner.close()
    return learner


@contextlib.contextmanager
def _locked(directory, create=False):
    if not create:
        _read_session(directory)  # a clear error before making anything
    with lock_directory(directory):
        remove_temporaries(directory)
        yield


def _session_id(session):
    return session["pool"]["fingerprint"][:12]




def _read_session(directory):
    path = os.path.join(directory, "session.json")
    if not os.path.isfile(path):
        raise ValueError(
            f"{directory} holds no labelling session: create one with "
            "`keras-dbal init`."
        )
    return read_json(path)


def _open(directory):
    session = _read_session(directory)
    pool = _load_pool(directory, session)
    learner = ActiveLearner.load(
        os.path.join(directory, "learner"), pool=pool
    )
    return session, pool, learner


def _load_pool(directory, session):
    path = os.path.join(directory, "pool.npy")
    source = session.get("source") or "the images given to keras-dbal init"
    try:
        pool = Pool(
            np.load(path, allow_pickle=False), names=session.get("names")
        )
    except Exception as error:  # truncated, missing or not an array
        raise DataError(
            f"Cannot read {path} ({error}). It is a copy of {source}; "
            "restore it from there."
        ) from None
    if "pool" in session and pool.identity() != session["pool"]:
        raise DataError(
            f"{path} is not the pool this session was created with (its "
            f"fingerprint differs). It is a copy of {source}; restore it "
            "from there."
        )
    return pool


def _read_pending(directory):
    path = os.path.join(directory, "pending.json")
    if not os.path.isfile(path):
        return None
    try:
        pending = read_json(path)
        indices = (
            pending.get("indices") if isinstance(pending, dict) else None
        )
        if not isinstance(indices, list) or not isinstance(
            pending.get("round"), int
        ) or not all(isinstance(index, int) for index in indices):
            raise LabelFileError(
                f"{path} does not hold {{\"round\": int, \"indices\": "
                "[int, ...]}."
            )
    except LabelFileError as error:
        # The round's CSV template lists the same positions: rebuild from it
        # (it is rewritten for good when the round is taught).
        rebuilt, source = _pending_from_template(directory)
        if rebuilt is None:
            raise LabelFileError(
                f"{error} No round CSV in {directory}/rounds to rebuild it "
                f"from: delete {path} and run `keras-dbal query`."
            ) from None
        warnings.warn(
            f"{path} is damaged; the waiting round was rebuilt from "
            f"{source}.", LabelFileWarning, stacklevel=3,
        )
        return rebuilt
    return pending


def _pending_from_template(directory):
    number = next_round(directory) - 1
    path = os.path.join(
        directory, "rounds", f"round-{number:04d}", "labels.csv"
    )
    try:
        round_number, indices = read_template(path)
    except LabelFileError:
        return None, path
    if round_number != number:
        return None, path
    return {"round": number, "indices": indices}, path


def _check_pending(directory, pending, pool):
    positions = np.asarray(pending["indices"])
    if (
        len(positions) == 0
        or positions.min() < 0
        or positions.max() >= len(pool)
        or len(np.unique(positions)) != len(positions)
    ):
        raise LabelFileError(
            f"{os.path.join(directory, 'pending.json')} is damaged: its "
            f"positions must be distinct and in [0, {len(pool)}). Delete it "
            "to rebuild the waiting round from its CSV template."
        )
