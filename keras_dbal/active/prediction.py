"""Prediction helpers of the learner: samplers per T, and test metrics."""

import warnings

import numpy as np

from keras_dbal.utils import validation

__all__ = ["Samplers", "at_chance", "metrics"]


class Samplers:
    """The learner's sampler, and one per other T that `predict` is asked
    for, each built (and compiled) once.

    Args:
        sampler: The learner's `MCSampler`.
    """

    def __init__(self, sampler):
        self.default = sampler
        self._others = {}

    def get(self, mc_samples):
        """The sampler of T = `mc_samples` (None: the learner's)."""
        if mc_samples is None or mc_samples == self.default.mc_samples:
            return self.default
        mc_samples = validation.positive_int(mc_samples, "mc_samples")
        if mc_samples not in self._others:
            self._others[mc_samples] = self.default.replace(
                mc_samples=mc_samples
            )
        return self._others[mc_samples]


def metrics(probs, labels):
    """Test metrics of `(N, C)` probabilities for integer `labels`.

    Returns:
        `accuracy`, `error`, `nll`; `balanced_accuracy` (the mean recall of
        the classes present in `labels`); `recall`, one per class (NaN for
        a class absent from `labels`); and `auc`, the area under the ROC
        curve of class 1's probability for two classes, the mean
        one-vs-rest area of every class otherwise (NaN when `labels` lack
        a class, where it is not defined, and when a probability is not
        finite, as after a diverged fit). scikit-learn computes the last
        three.
    """
    from sklearn import metrics as sklearn_metrics

    num_classes = probs.shape[1]
    predicted = probs.argmax(axis=1)
    accuracy = float(np.mean(predicted == labels))
    picked = np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)
    classes = np.arange(num_classes)
    recall = sklearn_metrics.recall_score(
        labels, predicted, labels=classes, average=None, zero_division=0
    )
    present = np.isin(classes, labels)
    recall = np.where(present, recall, np.nan)
    return {
        "accuracy": accuracy,
        "error": 1.0 - accuracy,
        "nll": float(-np.mean(np.log(picked))),
        "balanced_accuracy": float(np.mean(recall[present])),
        "recall": recall.tolist(),
        "auc": _auc(probs, labels, present),
    }


class ChanceLevelWarning(UserWarning):
    """A fit left the model no better than chance on its own labels."""


def warn_if_at_chance(probs, labels, stacklevel):
    """Warn (`ChanceLevelWarning`) if `(N, C)` predictions of a freshly
    fitted labelled set are at chance on it (`at_chance`).

    Returns:
        Whether it warned.
    """
    at, accuracy, chance = at_chance(probs, labels)
    if at:
        warnings.warn(
            "The fitted model is at chance on its own labelled set: "
            f"accuracy {accuracy:.2f} on {len(labels)} labels, where "
            f"always answering the commonest class gets {chance:.2f}, so "
            "its queries are no better than random. It is most likely "
            "undertrained: too few epochs (`epochs` in fit_kwargs; "
            "`keras-dbal run --epochs`, or `keras-dbal init --epochs` for a "
            "new labelling session) or too small a learning rate.",
            ChanceLevelWarning,
            stacklevel=stacklevel + 1,
        )
    return at


def at_chance(probs, labels):
    """Whether `(N, C)` predictions of a labelled set are no better than
    chance on it, with the accuracy and the chance level.

    Chance is what always answering the commonest class gets, its share
    p of the labels. A model that learned nothing scores about p, give
    or take the binomial spread sqrt(p (1 - p) / N), so "at chance" is
    an accuracy within two of those spreads above p. A model fitted on
    these very labels scores far above that; one that did not move from
    its initial weights, or collapsed to one class, does not. Where that
    bound reaches 1 (a few labels, nearly all of one class) no accuracy
    tells, and the answer is False.

    Returns:
        `(at_chance, accuracy, chance)`.
    """
    labels = np.asarray(labels)
    chance = float(np.bincount(labels).max() / len(labels))
    accuracy = float(np.mean(probs.argmax(axis=1) == labels))
    bound = chance + 2.0 * np.sqrt(chance * (1.0 - chance) / len(labels))
    return bool(bound < 1.0 and accuracy <= bound), accuracy, chance


def _auc(probs, labels, present):
    """ROC AUC (see `metrics`), NaN when a class is missing."""
    from sklearn import metrics as sklearn_metrics

    if not present.all() or not np.isfinite(probs).all():
        return float("nan")
    if probs.shape[1] == 2:
        return float(sklearn_metrics.roc_auc_score(labels, probs[:, 1]))
    # In float64 and renormalised: scikit-learn checks that each row sums
    # to 1, which float32 averages of T passes miss by rounding.
    scores = probs.astype("float64")
    scores /= scores.sum(axis=1, keepdims=True)
    return float(sklearn_metrics.roc_auc_score(
        labels, scores, multi_class="ovr", labels=np.arange(probs.shape[1])
    ))
