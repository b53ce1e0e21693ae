"""Pools from folders of image files, labelled by hand through the CLI."""

import csv

import numpy as np
import pytest

from keras_dbal import ActiveLearner
from keras_dbal import Pool
from keras_dbal.datasets import DataError
from keras_dbal.datasets import load_image_folder
from keras_dbal.tools import cli
from keras_dbal.tools.label_files import LabelFileError

# Folders, files and CSVs: keras_dbal's own code under every backend.
pytestmark = pytest.mark.backend_independent

SIZE = 12


def pixels(label, number):
    """A 12x12 8-bit image: class 0 bright on the left, class 1 on the
    right, with a faint number-dependent corner so no two are alike."""
    image = np.full((SIZE, SIZE), 20, dtype="uint8")
    if label == 0:
        image[:, : SIZE // 2] = 230
    else:
        image[:, SIZE // 2 :] = 230
    image[0, 0] = 40 + 7 * number
    return image


@pytest.fixture
def folder(tmp_path):
    """cat/ (class 0) and dog/ (class 1), 8 PNGs each, written by hand."""
    from PIL import Image

    root = tmp_path / "images"
    for label, name in enumerate(("cat", "dog")):
        (root / name).mkdir(parents=True)
        for number in range(8):
            Image.fromarray(pixels(label, number), mode="L").save(
                root / name / f"{name}_{number:02d}.png"
            )
    return root


def test_a_folder_is_read_in_file_order_with_its_classes(folder):
    pool = Pool.from_directory(folder, image_size=(SIZE, SIZE),
                               color_mode="grayscale")
    assert pool.class_names == ("cat", "dog")
    assert pool.names == tuple(
        f"{name}/{name}_{number:02d}.png"
        for name in ("cat", "dog") for number in range(8)
    )
    assert pool.y.tolist() == [0] * 8 + [1] * 8
    expected = np.stack([
        pixels(label, number) for label in (0, 1) for number in range(8)
    ])[..., None] / 255.0
    np.testing.assert_allclose(pool.x, expected, atol=1e-6)
    # Unlabelled: the same files, in the same order, no oracle.
    unlabelled = load_image_folder(folder, labels=None,
                                   image_size=(SIZE, SIZE),
                                   color_mode="grayscale")
    assert unlabelled.labels is None and unlabelled.class_names == ()
    assert unlabelled.file_names == pool.names


def test_a_missing_or_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_image_folder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="No images found"):
        load_image_folder(tmp_path / "empty", labels=None)
    with pytest.raises(ValueError, match="labels"):
        load_image_folder(tmp_path / "empty", labels="folders")


def test_empty_classes_and_undecodable_files_are_named(folder, tmp_path):
    (folder / "zebra").mkdir()
    with pytest.raises(DataError, match=r"\['zebra'\] hold no image"):
        load_image_folder(folder, image_size=(SIZE, SIZE))
    (folder / "zebra").rmdir()
    (folder / "dog" / "._dog_00.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"cannot decode .*\._dog_00\.png"):
        load_image_folder(folder, image_size=(SIZE, SIZE))


def test_resizing_never_leaves_zero_to_one(folder):
    images = load_image_folder(
        folder, image_size=(SIZE * 3, SIZE * 3), interpolation="bicubic"
    ).images
    assert images.min() >= 0.0 and images.max() <= 1.0


def test_a_file_name_is_matched_as_a_spreadsheet_gives_it_back(tmp_path):
    from keras_dbal.tools.label_files import read_labels

    path = tmp_path / "labels.csv"
    # "e" + combining acute (NFD), a trailing space: a spreadsheet may
    # hand back NFC without the space.
    names = ["cafe\u0301 .png", "b.png"]
    path.write_text(
        "session,round,pool_index,image_file,label\n"
        "s,0,0,caf\u00e9 .png ,1\n", encoding="utf-8"
    )
    pending = {"round": 0, "indices": [0, 1]}
    indices, labels = read_labels(path, pending, 2, names=names,
                                  allow_blank=True)
    assert indices.tolist() == [0] and labels.tolist() == [1]
    path.write_text(
        "session,round,pool_index,image_file,label\n"
        "s,0,0,b.png,1\n", encoding="utf-8"
    )
    with pytest.raises(LabelFileError, match="is the image"):
        read_labels(path, pending, 2, names=names, allow_blank=True)


def fill(path, folder_names):
    """Label every row from its file's folder, as a person would."""
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    header = rows[0]
    for row in rows[1:]:
        row[4] = str(folder_names.index(row[3].split("/")[0]))
    with open(path, "w", newline="") as file:
        csv.writer(file).writerows(rows)
    return [row for row in rows[1:]], header


@pytest.mark.slow
def test_query_names_files_and_teach_checks_them(folder, tmp_path):
    state = str(tmp_path / "session")
    assert cli.main([
        "init", "--state", state, "--pool", str(folder),
        "--num-classes", "2", "--image-size", str(SIZE), str(SIZE),
        "--color-mode", "grayscale", "--mc-samples", "3", "--epochs", "2",
        "--batch-size", "4",
    ]) == 0
    names = Pool.from_directory(folder, image_size=(SIZE, SIZE),
                                color_mode="grayscale").names
    taught = {}
    for round_number in range(2):
        assert cli.main(["query", "--state", state, "--n", "4"]) == 0
        template = (
            f"{state}/rounds/round-{round_number:04d}/labels.csv"
        )
        rows, header = fill(template, ["cat", "dog"])
        assert header[3] == "image_file"
        # Every row names the file at its position.
        for row in rows:
            assert row[3] == names[int(row[2])]
        if round_number == 1:
            # A position edited by hand no longer matches its file.
            edited = [list(row) for row in rows]
            edited[0][2] = rows[1][2]
            edited[1][2] = rows[0][2]
            bad = tmp_path / "edited.csv"
            with open(bad, "w", newline="") as file:
                csv.writer(file).writerows([header] + edited)
            from keras_dbal.tools import labelling

            with pytest.raises(LabelFileError, match="is the image"):
                labelling.teach_session(state, str(bad))
        assert cli.main(["teach", "--state", state, template]) == 0
        taught.update({int(row[2]): int(row[4]) for row in rows})
    # The labels, by position and by file, survive a save and a load.
    learner = ActiveLearner.load(f"{state}/learner")
    assert learner.num_labelled == 8
    assert dict(zip(learner.pool_indices_.tolist(),
                    learner.y_labelled_.tolist(), strict=True)) == taught
    for position, label in taught.items():
        assert names[position].startswith(("cat/", "dog/")[label])
    learner.close()


def test_grayscale_reads_bmp_and_gif_as_pil_converts_them(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (2, SIZE, SIZE, 3), dtype="uint8")
    grey = pixels(0, 1)
    Image.fromarray(colour[0]).save(tmp_path / "a.bmp")
    Image.fromarray(colour[1]).convert("L").save(tmp_path / "b.gif")
    Image.fromarray(grey, mode="L").save(tmp_path / "c.png")
    folder = load_image_folder(tmp_path, labels=None,
                               image_size=(SIZE, SIZE),
                               color_mode="grayscale")
    assert folder.file_names == ("a.bmp", "b.gif", "c.png")
    expected = np.stack([
        np.asarray(Image.fromarray(colour[0]).convert("L")),
        np.asarray(Image.fromarray(colour[1]).convert("L")),
        grey,
    ])[..., None] / 255.0
    # PIL rounds each converted pixel to an integer.
    np.testing.assert_allclose(folder.images, expected, atol=0.5 / 255)


def test_a_file_that_cannot_be_decoded_so_is_named_with_why(tmp_path):
    from PIL import Image

    Image.fromarray(pixels(0, 0), mode="L").save(tmp_path / "a.gif")
    with pytest.raises(DataError, match=r"cannot decode .*a\.gif \(channels "
                       r"must be 0 or 3 for GIF, got 4\)"):
        load_image_folder(tmp_path, labels=None, image_size=(SIZE, SIZE),
                          color_mode="rgba")


@pytest.mark.slow
def test_file_names_with_line_breaks_are_labelled(tmp_path):
    from PIL import Image

    root = tmp_path / "images"
    root.mkdir()
    names = ["a\nline.png", "b\u2028line.png", "c\u0085line.png",
             "d plain.png"]
    for number, name in enumerate(names):
        Image.fromarray(pixels(number % 2, number), mode="L").save(root / name)
    state = str(tmp_path / "session")
    assert cli.main([
        "init", "--state", state, "--pool", str(root), "--num-classes", "2",
        "--image-size", str(SIZE), str(SIZE), "--color-mode", "grayscale",
        "--mc-samples", "2", "--epochs", "1", "--batch-size", "4",
    ]) == 0
    assert cli.main(["query", "--state", state, "--n", "4"]) == 0
    template = f"{state}/rounds/round-0000/labels.csv"
    with open(template, newline="") as file:
        rows = list(csv.reader(file))
    assert sorted(row[3] for row in rows[1:]) == names
    for row in rows[1:]:
        row[4] = str(names.index(row[3]) % 2)
    with open(template, "w", newline="") as file:
        csv.writer(file).writerows(rows)
    assert cli.main(["teach", "--state", state, template]) == 0
    learner = ActiveLearner.load(f"{state}/learner")
    assert dict(zip(learner.pool_indices_.tolist(),
                    learner.y_labelled_.tolist(), strict=True)) == {
        0: 0, 1: 1, 2: 0, 3: 1
    }
    learner.close()
