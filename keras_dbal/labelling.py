"""Labelling by a person: query to a contact sheet and CSV, teach from it.

A labelling session lives in one state directory:

    DIR/
      session.json        number of classes, where the pool came from
      pool.npy            the unlabelled images, copied once
      learner/            the ActiveLearner's checkpoints (see checkpoint)
      pending.json        the round waiting for labels, if any
      rounds/round-0003/  contact_sheet.png, images/*.png, labels.csv

`query` writes a CSV template with the columns `round, pool_index,
image_file, label` and an empty label column; `teach` reads it back once
filled. A CSV that does not answer the pending round exactly is refused
with a message saying what is wrong, and nothing in the directory changes.
"""

import csv
import json
import os

import keras
import numpy as np

from keras_dbal import checkpoint
from keras_dbal.data import Pool
from keras_dbal.data import scale_images
from keras_dbal.learner import ActiveLearner
from keras_dbal.models import gal_cnn

__all__ = ["LabelFileError", "init_session", "query_session", "teach_session"]

CSV_COLUMNS = ["round", "pool_index", "image_file", "label"]


class LabelFileError(ValueError):
    """A labels CSV that does not fit the pending query."""


def init_session(
    directory, pool_images, num_classes, *, acquisition="bald",
    mc_samples=20, epochs=50, batch_size=128, seed=0, source=None,
):
    """Create a labelling session around a new Bayesian `gal_cnn`.

    Args:
        directory: The state directory; must not hold a session yet.
        pool_images: The unlabelled images `(N, height, width, channels)`.
        num_classes: Number of classes a person may assign.
        acquisition, mc_samples, seed: As for `ActiveLearner`.
        epochs, batch_size: Passed to `model.fit`.
        source: Where the images came from, for the record.
    """
    if os.path.exists(os.path.join(directory, "session.json")):
        raise ValueError(
            f"{directory} already holds a labelling session; query or "
            "teach it, or choose another directory."
        )
    pool = Pool(scale_images(Pool(pool_images).x, "pool_images"))
    os.makedirs(directory, exist_ok=True)
    np.save(os.path.join(directory, "pool.npy"), pool.x)
    keras.utils.set_random_seed(seed)
    model = gal_cnn(pool.x.shape[1:], num_classes, seed=seed)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    learner = ActiveLearner(
        model, acquisition, mc_samples, seed=seed,
        fit_kwargs={"epochs": epochs, "batch_size": batch_size},
        checkpoint_dir=os.path.join(directory, "learner"),
    )
    learner.pool_ = pool.identity()
    learner.checkpoint()
    _write_json(
        os.path.join(directory, "session.json"),
        {"num_classes": int(num_classes), "source": source, "seed": seed},
    )
    return learner


def query_session(directory, n):
    """Choose the next n images and write the sheet and CSV template.

    While a round waits for labels, the same round is written again
    rather than a new one chosen. Before any label, the images are chosen
    at random (seeded): a model with nothing learned has no uncertainty
    worth following.

    Returns:
        The path of the CSV template.
    """
    session, pool, learner = _open(directory)
    pending = _read_pending(directory)
    if pending is not None and pool.labelled_mask[pending["indices"]].all():
        # Taught, but stopped before the pending note was removed.
        os.remove(os.path.join(directory, "pending.json"))
        pending = None
    if pending is None:
        if learner.num_labelled == 0:
            rng = np.random.default_rng([learner.seed or 0, 0])
            if n > len(pool):
                raise ValueError(
                    f"Invalid value received for argument `n`: asked for "
                    f"{n} images but the pool has {len(pool)}."
                )
            chosen = np.sort(rng.choice(len(pool), n, replace=False))
            round_number = 0
        else:
            chosen = learner.query(pool, n=n)
            round_number = learner.round
            learner.checkpoint()
        pending = {"round": round_number, "indices": chosen.tolist()}
        _write_json(os.path.join(directory, "pending.json"), pending)
    return _write_round(directory, pool, pending)


def teach_session(directory, labels_csv):
    """Teach the labels of a filled CSV template, then refit.

    Raises:
        LabelFileError: the CSV does not answer the pending round
            exactly; nothing is changed.
    """
    session = _read_session(directory)
    pending = _read_pending(directory)
    if pending is None:
        raise LabelFileError(
            f"No query is waiting for labels in {directory}: run "
            "`keras-dbal query` first."
        )
    indices, labels = read_labels(
        labels_csv, pending, session["num_classes"]
    )
    _, pool, learner = _open(directory)
    learner.teach(pool, labels, indices=indices)
    os.remove(os.path.join(directory, "pending.json"))
    return learner


def read_labels(path, pending, num_classes):
    """Parse and check a filled CSV template against the pending query.

    Positions outside the pending query are refused, so a position that
    is already labelled (it was asked for in an earlier round) is too.

    Returns:
        `(indices, labels)` as int64 arrays.
    """
    try:
        with open(path, newline="") as file:
            rows = list(csv.reader(file))
    except (OSError, UnicodeDecodeError) as error:
        raise LabelFileError(f"Cannot read {path}: {error}") from None
    if not rows or [cell.strip() for cell in rows[0]] != CSV_COLUMNS:
        raise LabelFileError(
            f"{path}: the first line must be the header "
            f"{','.join(CSV_COLUMNS)}."
        )
    indices, labels = [], []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(CSV_COLUMNS):
            raise LabelFileError(
                f"{path}, line {line}: expected {len(CSV_COLUMNS)} columns, "
                f"found {len(row)}."
            )
        round_text, index_text, _, label_text = (c.strip() for c in row)
        round_number = _parse_int(round_text, "round", path, line)
        if round_number != pending["round"]:
            raise LabelFileError(
                f"{path}, line {line}: this CSV answers round {round_number}"
                f", but the query waiting for labels is round "
                f"{pending['round']}."
            )
        index = _parse_int(index_text, "pool_index", path, line)
        if index not in pending["indices"]:
            raise LabelFileError(
                f"{path}, line {line}: pool_index {index} was not asked "
                f"for in round {pending['round']}."
            )
        if index in indices:
            raise LabelFileError(
                f"{path}, line {line}: pool_index {index} appears twice."
            )
        if label_text == "":
            raise LabelFileError(
                f"{path}, line {line}: pool_index {index} has no label."
            )
        label = _parse_int(label_text, "label", path, line)
        if not 0 <= label < num_classes:
            raise LabelFileError(
                f"{path}, line {line}: label {label} is outside the "
                f"classes 0..{num_classes - 1}."
            )
        indices.append(index)
        labels.append(label)
    if not indices:
        raise LabelFileError(f"{path} has no labelled rows.")
    return np.array(indices, "int64"), np.array(labels, "int64")


def _parse_int(text, column, path, line):
    try:
        return int(text)
    except ValueError:
        raise LabelFileError(
            f"{path}, line {line}: {column} must be an integer, found "
            f"{text!r}."
        ) from None


def _read_session(directory):
    path = os.path.join(directory, "session.json")
    if not os.path.isfile(path):
        raise ValueError(
            f"{directory} holds no labelling session: create one with "
            "`keras-dbal init`."
        )
    with open(path) as file:
        return json.load(file)


def _open(directory):
    session = _read_session(directory)
    pool = _load_pool(directory)
    learner = checkpoint.load_learner(
        os.path.join(directory, "learner"), pool=pool
    )
    return session, pool, learner


def _load_pool(directory):
    return Pool(np.load(os.path.join(directory, "pool.npy")))


def _read_pending(directory):
    path = os.path.join(directory, "pending.json")
    if not os.path.isfile(path):
        return None
    with open(path) as file:
        return json.load(file)


def _write_round(directory, pool, pending):
    folder = os.path.join(
        directory, "rounds", f"round-{pending['round']:04d}"
    )
    os.makedirs(os.path.join(folder, "images"), exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    indices = pending["indices"]
    files = []
    for index in indices:
        name = os.path.join("images", f"pool-{index:07d}.png")
        pyplot.imsave(
            os.path.join(folder, name), _displayable(pool.x[index]),
            cmap="gray", vmin=0.0, vmax=1.0,
        )
        files.append(name)
    columns = min(10, len(indices))
    rows = -(-len(indices) // columns)
    figure, axes = pyplot.subplots(
        rows, columns, figsize=(1.3 * columns, 1.5 * rows), squeeze=False
    )
    for axis in axes.flat:
        axis.axis("off")
    for axis, index in zip(axes.flat, indices, strict=False):
        axis.imshow(_displayable(pool.x[index]), cmap="gray", vmin=0,
                    vmax=1)
        axis.set_title(str(index), fontsize=8)
    figure.suptitle(f"Round {pending['round']}: label by pool index")
    figure.tight_layout()
    figure.savefig(os.path.join(folder, "contact_sheet.png"), dpi=100)
    pyplot.close(figure)
    path = os.path.join(folder, "labels.csv")
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_COLUMNS)
        for index, name in zip(indices, files, strict=True):
            writer.writerow([pending["round"], index, name, ""])
    return path


def _displayable(image):
    image = np.asarray(image, "float32")
    if image.shape[-1] == 1:
        image = image[..., 0]
    low, high = float(image.min()), float(image.max())
    if low < 0 or high > 1:
        image = (image - low) / max(high - low, 1e-12)
    return image


def _write_json(path, payload):
    checkpoint.write_atomically(path, json.dumps(payload, indent=1))
