"""Labelling by a person: query to a contact sheet and CSV, teach from it.

A labelling session lives in one state directory:

    DIR/
      .lock               held by the one command working here
      session.json        number of classes, seed, where the pool came from
      pool.npy            the unlabelled images, copied once
      names.json          each image's file, for a pool read from a folder
      learner/            the ActiveLearner's checkpoints (keras_dbal.saving)
      pending.json        the round waiting for labels, if any
      rounds/round-0003/  contact_sheet.png, images/*.png, labels.csv

`query` writes a CSV template with the columns `round, pool_index,
image_file, label` and an empty label column; `teach` reads it back once
filled. A round's `labels.csv` is written once and never again, so a
person may fill it in place: asking again while the round waits for
labels shows the same round. A CSV that does not answer the pending round
(rows missing, other rounds, unknown or repeated positions, positions
that do not match their image files, labels outside the classes) is
refused with a message saying what is wrong, and nothing in the directory
changes; `partial=True` teaches the rows that are there and keeps the
rest of the round waiting. Every command holds the directory's lock, so
two at once get a clear error, never each other's half-written files.

Nothing that holds a label depends on one file alone: a damaged
`session.json` is rebuilt from the learner's checkpoint and `pool.npy`,
and a damaged or missing `pending.json` from the round's CSV (see
`keras_dbal.tools.pending_rounds`); each with a `LabelFileWarning`.
"""

import os

import keras
import numpy as np

from keras_dbal.active import learner_state
from keras_dbal.active.learner import ActiveLearner
from keras_dbal.active.pool import Pool
from keras_dbal.active.selection import derive_seed
from keras_dbal.active.selection import random_query
from keras_dbal.datasets.loaders import scale_images
from keras_dbal.models import gal_cnn
from keras_dbal.tools import pending_rounds
from keras_dbal.tools import sessions
from keras_dbal.tools.contact_sheets import write_round
from keras_dbal.tools.label_files import CSV_COLUMNS
from keras_dbal.tools.label_files import LabelFileError
from keras_dbal.tools.label_files import read_labels
from keras_dbal.tools.session_files import LEARNER
from keras_dbal.tools.session_files import NAMES
from keras_dbal.tools.session_files import PENDING
from keras_dbal.tools.session_files import POOL
from keras_dbal.tools.session_files import SESSION
from keras_dbal.tools.session_files import first_missing
from keras_dbal.tools.session_files import next_round
from keras_dbal.tools.session_files import read_session
from keras_dbal.tools.session_files import remove_made
from keras_dbal.tools.session_files import remove_unfinished_init
from keras_dbal.tools.session_files import round_folder
from keras_dbal.tools.session_files import save_array
from keras_dbal.tools.session_files import write_json
from keras_dbal.tools.wording import count
from keras_dbal.utils import validation

__all__ = [
    "CSV_COLUMNS",
    "LabelFileError",
    "init_session",
    "pending_round",
    "query_session",
    "read_labels",
    "session_status",
    "teach_session",
]


def init_session(
    directory, pool_images, num_classes, *, acquisition="bald",
    mc_samples=20, epochs=100, batch_size=32, seed=0, source=None,
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

    A failed init leaves nothing of its own behind (the directory too,
    if it made it); a person's files in the directory are never touched.
    """
    num_classes = validation.positive_int(num_classes, "num_classes")
    pool = Pool(scale_images(
        Pool(pool_images).x, "pool_images", max_value=max_value
    ), names=names)
    made = first_missing(directory)
    try:
        with sessions.locked(directory, create=True) as lock:
            if os.path.exists(os.path.join(directory, SESSION)):
                raise ValueError(
                    f"{directory} already holds a labelling session; query "
                    "or teach it, or choose another directory."
                )
            remove_unfinished_init(directory)
            try:
                learner = _create(
                    directory, pool, num_classes, acquisition=acquisition,
                    mc_samples=mc_samples, epochs=epochs,
                    batch_size=batch_size, seed=seed, source=source,
                )
            except BaseException:
                remove_unfinished_init(directory)
                lock.discard()
                raise
    except BaseException:
        remove_made(directory, made)
        raise
    return learner


def _create(directory, pool, num_classes, *, acquisition, mc_samples,
            epochs, batch_size, seed, source):
    save_array(os.path.join(directory, POOL), pool.x)
    if pool.names is not None:
        write_json(os.path.join(directory, NAMES), list(pool.names))
    keras.utils.set_random_seed(seed)
    model = gal_cnn(pool.x.shape[1:], num_classes, seed=seed)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with ActiveLearner(
        model, acquisition, mc_samples, seed=seed,
        fit_kwargs={"epochs": epochs, "batch_size": batch_size},
        checkpoint_dir=os.path.join(directory, LEARNER),
    ) as learner:
        learner.checkpoint()
    # Written last: a session exists once everything it names does.
    write_json(
        os.path.join(directory, SESSION),
        {"num_classes": num_classes, "source": source, "seed": seed,
         "pool": pool.identity()},
    )
    return learner


def pending_round(directory):
    """`{"round", "indices"}` of the round waiting for labels, or None.

    Read as `query` and `teach` find it (a damaged `pending.json` is read
    as the round its CSV lists), without changing anything.

    Args:
        directory: The session's state directory.
    """
    session, _ = read_session(directory)
    if session is None:
        # Damaged: the next query or teach rebuilds it; the pool says how
        # many images there are.
        sessions.check_session_exists(directory)
        size = len(sessions.load_pool(directory, None))
    else:
        size = session["pool"]["size"]
    labelled = sessions.labelled_mask(directory, size)
    pending, _ = pending_rounds.find_waiting(directory, labelled)
    if pending is None or labelled[pending["indices"]].all():
        return None
    return pending


def session_status(directory):
    """Where a labelling session stands, read without changing anything.

    It takes no lock, so it answers while another command works on the
    session.

    Args:
        directory: The session's state directory.

    Returns:
        A dict: `images` (in the pool), `labelled`, `labels_per_class`
        (a count per class), `waiting_round` (the round waiting for
        labels, or None), `waiting_images` (how many of its images still
        wait), `round_images` (how many it asked for), `waiting_csv` (its
        CSV, or None), `acquisition` and `seed`.
    """
    session = sessions.session_or_error(directory)
    state = learner_state.peek(os.path.join(directory, LEARNER))
    labelled = sessions.labelled_mask(
        directory, session["pool"]["size"], state
    )
    pending, _ = pending_rounds.find_waiting(directory, labelled)
    waiting = [] if pending is None else [
        index for index in pending["indices"] if not labelled[index]
    ]
    if not waiting:
        pending = None
    return {
        "images": len(labelled),
        "labelled": len(state["y_labelled"]),
        "labels_per_class": np.bincount(
            state["y_labelled"], minlength=session["num_classes"]
        ).tolist(),
        "waiting_round": None if pending is None else pending["round"],
        "waiting_images": len(waiting),
        "round_images": 0 if pending is None else len(pending["indices"]),
        "waiting_csv": None if pending is None else os.path.join(
            round_folder(directory, pending["round"]), "labels.csv"
        ),
        "acquisition": state["acquisition"],
        "seed": session["seed"],
    }


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
    with sessions.locked(directory):
        session, pool, learner = sessions.open_session(directory)
        try:
            pending = sessions.waiting_round(directory, pool)
            if pending is None:
                pending = _new_round(directory, pool, learner, n)
        finally:
            learner.close()
        return write_round(
            directory, pool, pending, sessions.session_id(session)
        )


def _new_round(directory, pool, learner, n):
    chosen = pending_rounds.unwritten_query(
        learner.history_, learner.num_labelled, pool.labelled_mask
    )
    if chosen is None:
        unlabelled = int((~pool.labelled_mask).sum())
        if n > unlabelled:
            raise ValueError(
                f"Invalid value received for argument `n`: asked for "
                f"{count(n, 'image')} but only {unlabelled} "
                f"{'is' if unlabelled == 1 else 'are'} unlabelled."
            )
        if learner.num_labelled == 0:
            chosen, _ = random_query(
                pool.unlabelled_indices, n,
                derive_seed(learner.seed or 0, "query", 0),
            )
            chosen = np.sort(chosen)
        else:
            chosen = learner.query(pool, n=n)
            # Killed from here until pending.json is written, the next
            # query finds this choice in the checkpoint (unwritten_query).
            learner.checkpoint()
    # Past every round folder, whatever the learner counts (an older
    # checkpoint after damage): a new round never reuses a folder whose
    # CSV a person may have filled.
    pending = {"round": next_round(directory), "indices": chosen.tolist()}
    write_json(os.path.join(directory, PENDING), pending)
    return pending


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
    with sessions.locked(directory):
        session, _ = read_session(directory)
        if session is not None:
            # A refused CSV is refused before the learner is loaded.
            pending = pending_round(directory)
            if pending is not None:
                _read_answers(directory, session, labels_csv, pending,
                              partial)
        session, pool, learner = sessions.open_session(directory)
        try:
            _teach(directory, session, pool, learner, labels_csv, partial)
        finally:
            learner.close()
    return learner


def _teach(directory, session, pool, learner, labels_csv, partial):
    pending = sessions.waiting_round(directory, pool)
    if pending is None:
        raise LabelFileError(
            f"No round is waiting for labels in {directory}: every round "
            "queried so far is taught (a CSV taught twice changes "
            "nothing). Run `keras-dbal query` for a new round."
        )
    indices, labels = _read_answers(
        directory, session, labels_csv, pending, partial
    )
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
            f" of the {count(len(pending['indices']), 'image')} of round "
            f"{pending['round']}; pool_index {missing[:20]} "
            f"{'has' if len(missing) == 1 else 'have'} no label. Label "
            f"{'it' if len(missing) == 1 else 'them'} too, or teach the "
            "labelled rows now and keep the rest waiting (keras-dbal teach "
            "--partial; partial=True in Python)."
        )
    if len(indices):
        learner.teach(pool, labels, indices=indices)
    if not missing:
        os.remove(os.path.join(directory, PENDING))


def _read_answers(directory, session, labels_csv, pending, partial):
    return read_labels(
        labels_csv, pending, session["num_classes"],
        session=sessions.session_id(session), allow_blank=partial,
        names=sessions.read_names(directory, session),
    )
