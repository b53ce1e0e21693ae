"""What a person looks at to label a round: image files and a contact sheet.

`rounds/round-NNNN/` holds one PNG per queried image, a contact sheet of
them all titled by pool position, and the CSV template. The pictures are
rewritten whenever the round is shown (each file replaced whole); the CSV
is written once and never again, since a person may be filling it.
"""

import os

import numpy as np

from keras_dbal.saving.atomic import replacing
from keras_dbal.tools.label_files import image_file
from keras_dbal.tools.label_files import write_template

__all__ = ["write_round"]


def write_round(directory, pool, pending, session):
    """The round's images and sheet (rewritten), and its CSV (if absent).

    Args:
        directory: The session's state directory.
        pool: The session's `Pool`.
        pending: The round, `{"round", "indices"}`.
        session: The session's identifier, written into the CSV.

    Returns:
        The path of the round's CSV.
    """
    folder = os.path.join(
        directory, "rounds", f"round-{pending['round']:04d}"
    )
    os.makedirs(os.path.join(folder, "images"), exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    indices = pending["indices"]
    for index in indices:
        name = image_file(index)
        with replacing(os.path.join(folder, name), "wb") as file:
            pyplot.imsave(
                file, _displayable(pool.x[index]), cmap="gray",
                vmin=0.0, vmax=1.0, format="png",
            )
    # A folder's pool: the CSV names each image's own file.
    files = [image_file(index, pool.names) for index in indices]
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
    with replacing(os.path.join(folder, "contact_sheet.png"), "wb") as file:
        figure.savefig(file, dpi=100, format="png")
    pyplot.close(figure)
    path = os.path.join(folder, "labels.csv")
    if not os.path.exists(path):
        # Never rewritten: from now on it may hold a person's work.
        with replacing(path) as file:
            write_template(file, session, pending["round"], indices, files)
    return path


def _displayable(image):
    image = np.asarray(image, "float32")
    if image.shape[-1] == 1:
        image = image[..., 0]
    low, high = float(image.min()), float(image.max())
    if low < 0 or high > 1:
        image = (image - low) / max(high - low, 1e-12)
    return image
