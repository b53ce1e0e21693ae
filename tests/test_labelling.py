import csv
import os
import shutil

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from keras_dbal import cli
from keras_dbal import labelling
from keras_dbal.labelling import LabelFileError
from tests.test_checkpoint import snapshot

N_QUERY = 6


@pytest.fixture(scope="module")
def session(tmp_path_factory, digits):
    """A session with one round taught and round 1 waiting for labels."""
    (x, y), _ = digits
    root = tmp_path_factory.mktemp("labelling")
    np.savez(root / "pool.npz", x_train=x[:120], y_train=y[:120])
    state = root / "state"
    assert cli.main([
        "init", "--state", str(state), "--pool", str(root / "pool.npz"),
        "--num-classes", "10", "--epochs", "1", "--mc-samples", "3",
    ]) == 0
    first = fill(labelling.query_session(state, N_QUERY), y)
    labelling.teach_session(state, first)
    template = labelling.query_session(state, N_QUERY)
    return {"state": state, "template": template, "y": y, "first": first,
            "root": root}


def fill(template, y, path=None):
    with open(template, newline="") as file:
        rows = list(csv.reader(file))
    for row in rows[1:]:
        row[3] = str(y[int(row[1])])
    path = path or template.replace(".csv", "-filled.csv")
    write(path, rows)
    return path


def write(path, rows):
    with open(path, "w", newline="") as file:
        csv.writer(file).writerows(rows)


def read(path):
    with open(path, newline="") as file:
        return list(csv.reader(file))


def test_query_writes_sheet_images_and_template(session):
    folder = os.path.dirname(session["template"])
    assert folder.endswith("round-0001")
    with open(os.path.join(folder, "contact_sheet.png"), "rb") as file:
        assert file.read(4) == b"\x89PNG"
    rows = read(session["template"])
    assert rows[0] == labelling.CSV_COLUMNS
    assert len(rows) == N_QUERY + 1
    assert all(row[0] == "1" and row[3] == "" for row in rows[1:])
    for row in rows[1:]:
        assert os.path.isfile(os.path.join(folder, row[2]))


def test_query_again_rewrites_the_same_round(session):
    again = labelling.query_session(session["state"], N_QUERY)
    assert read(again) == read(session["template"])


MUTATIONS = [
    "wrong_round", "unknown_index", "duplicate", "label_too_big",
    "negative_label", "text_label", "blank_label", "short_row",
    "bad_header", "earlier_round_row", "empty",
]


def mutate(rows, kind, position, session):
    rows = [list(row) for row in rows]
    row = rows[1 + position % (len(rows) - 1)]
    if kind == "wrong_round":
        row[0] = "0"
    elif kind == "unknown_index":
        asked = {r[1] for r in rows[1:]}
        row[1] = str(next(i for i in range(120) if str(i) not in asked))
    elif kind == "duplicate":
        rows.append(list(row))
    elif kind == "label_too_big":
        row[3] = "10"
    elif kind == "negative_label":
        row[3] = "-1"
    elif kind == "text_label":
        row[3] = "seven"
    elif kind == "blank_label":
        row[3] = ""
    elif kind == "short_row":
        del row[2]
    elif kind == "bad_header":
        rows[0] = ["index", "label"]
    elif kind == "earlier_round_row":
        first = read(session["first"])[1]
        row[1] = first[1]
    elif kind == "empty":
        rows = rows[:1]
    return rows


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(MUTATIONS), position=st.integers(0, 100))
def test_malformed_csv_is_refused_and_state_untouched(session, kind,
                                                      position):
    state = session["state"]
    filled = read(fill(session["template"], session["y"]))
    bad = str(session["root"] / "bad.csv")
    write(bad, mutate(filled, kind, position, session))
    before = snapshot(state)
    with pytest.raises(LabelFileError):
        labelling.teach_session(state, bad)
    assert snapshot(state) == before


def test_cli_teach_error_is_one_line(session, capsys):
    bad = session["root"] / "bad-cli.csv"
    write(bad, [["nonsense"]])
    assert cli.main(["teach", "--state", str(session["state"]),
                     str(bad)]) == 2
    error = capsys.readouterr().err
    assert "header" in error and error.count("\n") == 1


def test_round_trip_teaches_and_moves_on(session, tmp_path):
    state = tmp_path / "copy"
    shutil.copytree(session["state"], state)
    template = str(state / "rounds" / "round-0001" / "labels.csv")
    learner = labelling.teach_session(state, fill(template, session["y"]))
    assert learner.num_labelled == 2 * N_QUERY
    np.testing.assert_array_equal(
        learner.y_labelled_, session["y"][learner.pool_indices_]
    )
    with pytest.raises(LabelFileError, match="No query is waiting"):
        labelling.teach_session(state, template)
    next_template = labelling.query_session(state, N_QUERY)
    assert "round-0002" in next_template
    asked = {int(row[1]) for row in read(next_template)[1:]}
    assert not asked & set(learner.pool_indices_.tolist())


def test_init_refuses_an_existing_session(session, capsys):
    assert cli.main([
        "init", "--state", str(session["state"]), "--pool",
        str(session["root"] / "pool.npz"), "--num-classes", "10",
    ]) == 2
    assert "already holds" in capsys.readouterr().err


def test_init_names_a_missing_key(session, tmp_path, capsys):
    assert cli.main([
        "init", "--state", str(tmp_path / "s"), "--pool",
        str(session["root"] / "pool.npz"), "--key", "images",
        "--num-classes", "10",
    ]) == 2
    assert "has no array 'images'" in capsys.readouterr().err
