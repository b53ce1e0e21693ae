import csv
import errno
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from keras_dbal import ActiveLearner
from keras_dbal.saving import checkpoint
from keras_dbal.tools import cli
from keras_dbal.tools import labelling
from keras_dbal.tools.labelling import LabelFileError
from tests.conftest import requires_backend
from tests.test_checkpoint import snapshot

# File formats, commands and checks that do not depend on the Keras
# backend: CI runs this module under TensorFlow only.
pytestmark = pytest.mark.backend_independent

N_QUERY = 6
ROUND, INDEX, FILE, LABEL = (
    labelling.CSV_COLUMNS.index(name)
    for name in ("round", "pool_index", "image_file", "label")
)


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
            "root": root, "digits": digits}


def fill(template, y, path=None):
    with open(template, newline="") as file:
        rows = list(csv.reader(file))
    for row in rows[1:]:
        row[LABEL] = str(y[int(row[INDEX])])
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
    assert all(row[ROUND] == "1" and row[LABEL] == "" for row in rows[1:])
    for row in rows[1:]:
        assert os.path.isfile(os.path.join(folder, row[FILE]))


def test_query_again_rewrites_the_same_round(session):
    again = labelling.query_session(session["state"], N_QUERY)
    assert read(again) == read(session["template"])


MUTATIONS = [
    "wrong_round", "unknown_index", "duplicate", "label_too_big",
    "negative_label", "text_label", "blank_label", "short_row",
    "bad_header", "earlier_round_row", "empty", "other_session",
]


def mutate(rows, kind, position, session):
    rows = [list(row) for row in rows]
    row = rows[1 + position % (len(rows) - 1)]
    if kind == "wrong_round":
        row[ROUND] = "0"
    elif kind == "unknown_index":
        asked = {r[INDEX] for r in rows[1:]}
        row[INDEX] = str(
            next(i for i in range(120) if str(i) not in asked)
        )
    elif kind == "duplicate":
        rows.append(list(row))
    elif kind == "label_too_big":
        row[LABEL] = "10"
    elif kind == "negative_label":
        row[LABEL] = "-1"
    elif kind == "text_label":
        row[LABEL] = "seven"
    elif kind == "blank_label":
        row[LABEL] = ""
    elif kind == "short_row":
        del row[FILE]
    elif kind == "bad_header":
        rows[0] = ["index", "label"]
    elif kind == "earlier_round_row":
        first = read(session["first"])[1]
        row[INDEX] = first[INDEX]
    elif kind == "empty":
        rows = rows[:1]
    elif kind == "other_session":
        row[0] = "0123456789ab"
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
    with pytest.raises(LabelFileError, match="No round is waiting"):
        labelling.teach_session(state, template)
    next_template = labelling.query_session(state, N_QUERY)
    assert "round-0002" in next_template
    asked = {int(row[INDEX]) for row in read(next_template)[1:]}
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


# -- Nothing a person labelled may be lost (issue #10) --


@pytest.fixture
def copy(session, tmp_path):
    """A private copy of the session, round 1 waiting for labels."""
    state = tmp_path / "copy"
    shutil.copytree(session["state"], state)
    template = str(state / "rounds" / "round-0001" / "labels.csv")
    return state, template


def test_query_again_keeps_a_filled_csv(copy, session):
    state, template = copy
    fill(template, session["y"], path=template)  # filled in place
    filled = read(template)
    assert cli.main(["query", "--state", str(state), "--n", "3"]) == 0
    assert read(template) == filled
    learner = labelling.teach_session(state, template)
    assert learner.num_labelled == 2 * N_QUERY


def test_missing_rows_are_refused_then_taught_in_part(copy, session):
    state, template = copy
    rows = read(fill(template, session["y"]))
    part = str(state / "part.csv")
    write(part, rows[:3])
    before = snapshot(state)
    with pytest.raises(LabelFileError, match=r"labels 2 of the 6 images.*"
                       r"no label.*partial"):
        labelling.teach_session(state, part)
    assert snapshot(state) == before
    learner = labelling.teach_session(state, part, partial=True)
    assert learner.num_labelled == N_QUERY + 2
    assert labelling.pending_round(state)["round"] == 1
    # The whole CSV later: the two taught rows are checked and skipped.
    learner = labelling.teach_session(state, fill(template, session["y"]))
    assert learner.num_labelled == 2 * N_QUERY
    assert labelling.pending_round(state) is None
    assert len(set(learner.pool_indices_.tolist())) == 2 * N_QUERY


def test_a_taught_label_cannot_change(copy, session):
    state, template = copy
    rows = read(fill(template, session["y"]))
    part = str(state / "part.csv")
    write(part, rows[:3])
    labelling.teach_session(state, part, partial=True)
    rows[1][LABEL] = str((int(rows[1][LABEL]) + 1) % 10)
    changed = str(state / "changed.csv")
    write(changed, rows)
    before = snapshot(state)
    with pytest.raises(LabelFileError, match="already taught as"):
        labelling.teach_session(state, changed)
    assert snapshot(state) == before


def test_spreadsheet_csv_is_read(copy, session):
    state, template = copy
    rows = read(fill(template, session["y"]))
    path = state / "excel.csv"
    text = "\r\n".join(";".join(row) for row in rows) + "\r\n"
    path.write_bytes("\ufeff".encode() + text.encode())
    learner = labelling.teach_session(state, str(path))
    assert learner.num_labelled == 2 * N_QUERY


def test_unknown_header_says_what_was_found(copy):
    state, _ = copy
    path = state / "odd.csv"
    path.write_text("index|label\n1|2\n")
    with pytest.raises(LabelFileError, match=r"found 'index\|label'"):
        labelling.teach_session(state, str(path))


def test_damaged_pending_file_is_rebuilt_from_the_round_csv(copy, session,
                                                          capsys):
    state, template = copy
    filled = fill(template, session["y"])
    (state / "pending.json").write_text('{"round": 1, "ind')
    assert cli.main(["query", "--state", str(state)]) == 0
    error = capsys.readouterr().err
    assert "pending.json is damaged" in error and "round-0001" in error
    assert cli.main(["teach", "--state", str(state), filled]) == 0
    assert labelling.pending_round(state) is None


def test_pending_positions_outside_the_pool_are_refused(copy):
    state, _ = copy
    (state / "pending.json").write_text('{"round": 1, "indices": [1, 999]}')
    with pytest.raises(LabelFileError, match=r"pending.json is damaged"):
        labelling.query_session(state, 3)


def test_damaged_pool_file_is_named(copy):
    state, _ = copy
    data = (state / "pool.npy").read_bytes()
    (state / "pool.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"pool\.npy.*restore it"):
        labelling.query_session(state, 3)


def test_query_needs_a_positive_n(session, tmp_path, capsys):
    state = tmp_path / "new"
    assert cli.main([
        "init", "--state", str(state), "--pool",
        str(session["root"] / "pool.npz"), "--num-classes", "10",
    ]) == 0
    for n in (0, -1):
        with pytest.raises(ValueError, match="positive integer"):
            labelling.query_session(state, n)
        with pytest.raises(SystemExit):
            cli.main(["query", "--state", str(state), "--n", str(n)])
    assert "expected a positive integer" in capsys.readouterr().err
    assert not (state / "pending.json").exists()


def test_full_disk_during_teach_changes_nothing(copy, session, monkeypatch,
                                                capsys):
    state, template = copy
    filled = fill(template, session["y"])
    before = snapshot(state)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "arrays.npz")

    monkeypatch.setattr(checkpoint.np, "savez", full_disk)
    assert cli.main(["teach", "--state", str(state), filled]) == 2
    error = capsys.readouterr().err
    assert "No space left on device" in error and error.count("\n") == 1
    assert snapshot(state) == before
    monkeypatch.undo()
    learner = labelling.teach_session(state, filled)
    assert learner.num_labelled == 2 * N_QUERY


def run_cli(*args):
    # Without TF_CPP_MIN_LOG_LEVEL: the command keeps its stderr clean.
    env = {key: value for key, value in os.environ.items()
           if key != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.Popen(
        [sys.executable, "-m", "keras_dbal", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


@requires_backend("tensorflow")
@pytest.mark.slow
def test_teach_waits_for_the_lock_and_two_at_once_teach_once(copy, session):
    state, template = copy
    filled = fill(template, session["y"])
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.state_worker", "hold", str(state)],
        stdout=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert holder.stdout.readline().strip() == "locked"
    before = snapshot(state)
    try:
        teach = run_cli("teach", "--state", state, filled)
        _, err = teach.communicate(timeout=600)
        assert teach.returncode == 2
        assert f"is in use by process {holder.pid} " in err
        assert snapshot(state) == before
    finally:
        holder.kill()  # SIGKILL: the kernel frees its lock
        holder.communicate()
    # Two teach commands at once: one teaches; the other finds the session
    # in use, or the round already taught. Either way, no traceback, and
    # every label is taught once.
    processes = [run_cli("teach", "--state", state, filled) for _ in "ab"]
    results = [(*p.communicate(timeout=600), p.returncode)
               for p in processes]
    assert sorted(code for _, _, code in results) == [0, 2], results
    for _, err, code in results:
        assert "Traceback" not in err
        if code == 2:
            assert err.startswith("keras-dbal: error: ")
            assert err.count("\n") == 1
            assert "in use by process" in err or "No round is waiting" in err
    learner = ActiveLearner.load(state / "learner")
    assert learner.num_labelled == 2 * N_QUERY
    assert len(set(learner.pool_indices_.tolist())) == 2 * N_QUERY


def test_a_new_round_never_reuses_a_round_folder(copy, session):
    state, template = copy
    labelling.teach_session(state, fill(template, session["y"]))
    # A folder the learner's count does not know of (its checkpoint was
    # damaged and an older one loaded), its CSV filled by a person.
    kept = state / "rounds" / "round-0002"
    kept.mkdir()
    (kept / "labels.csv").write_text("precious\n")
    path = labelling.query_session(state, N_QUERY)
    assert "round-0003" in path
    assert (kept / "labels.csv").read_text() == "precious\n"


def test_init_never_deletes_a_learner_with_labels(copy, session):
    state, _ = copy
    os.remove(state / "session.json")
    before = snapshot(state / "learner")
    with pytest.raises(ValueError, match="holds a learner with labels"):
        labelling.init_session(state, np.zeros((5, 8, 8), "uint8") + 200, 10)
    assert snapshot(state / "learner") == before


def test_a_mistyped_state_directory_is_not_created(tmp_path, capsys):
    assert cli.main(["query", "--state", str(tmp_path / "typo")]) == 2
    assert "holds no labelling session" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()
