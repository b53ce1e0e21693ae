"""Test metrics against hand-computed values and a pair-counting AUC."""

import numpy as np
import pytest

from keras_dbal.active.prediction import metrics

pytestmark = pytest.mark.backend_independent


def pair_auc(scores, positive):
    """P(score of a positive > score of a negative), ties counting half:
    the ROC AUC by its definition, over every pair."""
    pos, neg = scores[positive], scores[~positive]
    wins = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None])
    return wins.mean()


def binary(p1):
    p1 = np.asarray(p1, dtype="float32")
    return np.stack([1 - p1, p1], axis=1)


def test_binary_case_by_hand():
    labels = np.array([0, 0, 1, 1, 1])
    result = metrics(binary([0.1, 0.6, 0.4, 0.8, 0.9]), labels)
    # Positives 0.4, 0.8, 0.9 against negatives 0.1, 0.6: 5 of 6 pairs.
    assert result["auc"] == pytest.approx(5 / 6)
    # Predicted [0, 1, 0, 1, 1]: class 0 recalls 1 of 2, class 1 2 of 3.
    assert result["recall"] == pytest.approx([1 / 2, 2 / 3])
    assert result["balanced_accuracy"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert result["accuracy"] == pytest.approx(3 / 5)


def test_tied_scores_count_half():
    labels = np.array([0, 1, 0, 1])
    result = metrics(binary([0.3, 0.3, 0.2, 0.7]), labels)
    # Pairs (pos, neg): (0.3, 0.3) half, (0.3, 0.2) win, (0.7, both) win.
    assert result["auc"] == pytest.approx(3.5 / 4)


def test_imbalanced_accuracy_and_balanced_accuracy_part():
    # One positive in ten, and a model that always says negative: 90 %
    # accurate, balanced accuracy 50 %, the positive class never found.
    labels = np.array([0] * 9 + [1])
    p1 = np.array([0.1] * 9 + [0.2])
    result = metrics(binary(p1), labels)
    assert result["accuracy"] == pytest.approx(0.9)
    assert result["balanced_accuracy"] == pytest.approx(0.5)
    assert result["recall"] == pytest.approx([1.0, 0.0])
    assert result["auc"] == pytest.approx(1.0)  # it still ranks them right


def test_multiclass_auc_is_the_mean_one_vs_rest_pair_count(rng):
    labels = np.arange(60) % 4
    logits = rng.normal(size=(60, 4)) + 1.5 * np.eye(4)[labels]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probs = probs.astype("float32")
    result = metrics(probs, labels)
    expected = np.mean([
        pair_auc(probs[:, c].astype("float64"), labels == c)
        for c in range(4)
    ])
    assert result["auc"] == pytest.approx(expected, abs=1e-6)
    predicted = probs.argmax(axis=1)
    recall = [np.mean(predicted[labels == c] == c) for c in range(4)]
    assert result["recall"] == pytest.approx(recall)
    assert result["balanced_accuracy"] == pytest.approx(np.mean(recall))


def test_a_class_missing_from_the_labels():
    probs = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]],
                     dtype="float32")
    result = metrics(probs, np.array([0, 1, 1]))
    # AUC is not defined without every class; class 2's recall neither.
    assert np.isnan(result["auc"])
    assert result["recall"][:2] == pytest.approx([1.0, 0.5])
    assert np.isnan(result["recall"][2])
    assert result["balanced_accuracy"] == pytest.approx(0.75)


def test_a_diverged_model_gives_nan_auc_not_a_crash():
    probs = binary([0.2, np.nan, 0.7, 0.9])
    result = metrics(probs, np.array([0, 0, 1, 1]))
    assert np.isnan(result["auc"])


def test_binary_auc_needs_both_classes():
    result = metrics(binary([0.2, 0.7]), np.array([1, 1]))
    assert np.isnan(result["auc"])
    assert result["balanced_accuracy"] == pytest.approx(0.5)


def test_results_saved_before_model_existed_still_summarize():
    from keras_dbal.experiments import summarize

    old = [{"acquisition": "bald", "bayesian": flag, "seed": 0,
            "num_labelled": [20], "error": [0.5],
            "error_without_dropout": [0.5]} for flag in (True, False)]
    assert list(summarize(old)) == ["bald", "bald (deterministic)"]
