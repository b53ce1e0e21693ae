"""Simulated active learning: an oracle labels what the learner queries."""


from keras_dbal import training
from keras_dbal.active.pool import Pool
from keras_dbal.active.prediction import metrics
from keras_dbal.utils import validation
from keras_dbal.utils.interrupts import deferred_interrupt
from keras_dbal.utils.progress import Progress

__all__ = ["simulate", "simulate_together"]


def simulate(
    learner, pool, rounds, n=10, *, x_test=None, y_test=None, progress=True
):
    """A simulated experiment: query, label from the oracle, refit.

    As in the experiments of Gal et al. (2017): each round the learner
    queries n images, the pool's oracle labels them, and the learner is
    taught them and refitted. Test metrics are recorded once before the
    first round and after every round, and each round's entry of
    `learner.history_` gets them as `after_teach`.

    Args:
        learner: An `ActiveLearner` taught an initial labelled set.
        pool: A `Pool` with its true labels, `Pool(x, y)`.
        rounds: Number of acquisition rounds.
        n: Images acquired per round.
        x_test, y_test: Optional test set for the learning curve.
        progress: Show a progress bar over the rounds.

    Returns:
        One dict per evaluation: `num_labelled` and, with a test set,
        the metrics of `ActiveLearner.evaluate` (`accuracy`, `error`,
        `nll`, `auc`, ...) of the MC-averaged prediction, and the same of
        one pass with dropout off (`accuracy_without_dropout`, ...).
    """
    rounds, x_test, y_test = _checked(learner, pool, rounds, x_test, y_test)
    curve = [measure(learner, x_test, y_test)]
    bar = Progress(rounds, "round", enabled=bool(progress))
    with deferred_interrupt() as stop:  # see simulate_together
        for done in range(1, rounds + 1):
            stop.check()
            chosen = learner.query(pool, n)
            learner.teach(pool, pool.oracle(chosen), indices=chosen)
            curve.append(measure(learner, x_test, y_test))
            learner.history_[-1]["after_teach"] = curve[-1]
            bar.update(done, _shown([learner], [curve]))
    return curve


def measure(learner, x_test, y_test):
    """The labelled count and, with a test set, the metrics both ways."""
    record = {"num_labelled": learner.num_labelled}
    if x_test is None:
        return record
    # Without any MCDropout both ways of predicting are one and the same
    # deterministic pass; with it, one pass of the deterministic prefix
    # serves both.
    if learner.sampler.is_stochastic:
        probs, probs_without = learner.predict_both_ways(x_test)
        with_dropout = metrics(probs, y_test)
        without = metrics(probs_without, y_test)
    else:
        with_dropout = without = metrics(learner.predict(x_test), y_test)
    record.update(with_dropout)
    for key, value in without.items():
        record[f"{key}_without_dropout"] = value
    return record


def simulate_together(
    learners, pools, rounds, n=10, *, x_test=None, y_test=None,
    strategy="auto", progress=True, on_round=None, curves=None,
):
    """`simulate` for K learners advanced in lockstep, their fits shared.

    Each learner queries and is taught from its own pool as in `simulate`;
    then all K are refitted by one `keras_dbal.training.fit_together`, so
    each curve is the one `simulate` gives the same learner (the fits
    agree to float rounding). Every learner must be taught its initial
    labels with `fit=False`, the same number each: the first fit is shared
    too.

    Args:
        learners: K `ActiveLearner`s (see
            `keras_dbal.training.fit_together` for what they must share).
        pools: Their K `Pool`s, with oracle labels.
        rounds, n, x_test, y_test, progress: As for `simulate`.
        strategy: How the K fits run: `"auto"` or one of
            `keras_dbal.training.STRATEGIES`.
        on_round: Function called with the K curves so far after the first
            fit and after every round; if it returns True, the experiment
            stops there (as Keras's `stop_training`).
        curves: To continue an experiment: the K curves of its finished
            rounds, the learners taught every label of those rounds and
            not fitted since (`keras_dbal.experiments.state.restore`).
            Their last fit is repeated and the rounds after it run;
            `rounds` counts all of them, the finished ones included.

    Returns:
        K curves, each as `simulate` returns it.
    """
    learners, pools = list(learners), list(pools)
    if not learners:
        raise ValueError("Received no learners to simulate.")
    if len(pools) != len(learners):
        raise ValueError(
            f"Expected one pool per learner. Received {len(learners)} "
            f"learners and {len(pools)} pools."
        )
    if len({id(pool) for pool in pools}) < len(pools):
        raise ValueError(
            "Each learner needs its own Pool (one Pool records one run's "
            "labels); several may wrap the same array: Pool(x, y)."
        )
    for learner, pool in zip(learners, pools, strict=True):
        rounds, x_test, y_test = _checked(
            learner, pool, rounds, x_test, y_test
        )
    # Ctrl-C is heard, and raised here between two steps: raised wherever
    # Python happened to be, the frameworks' own callbacks often swallow it.
    finished = 0 if curves is None else _finished(curves, learners, rounds)
    with deferred_interrupt() as stop:
        if finished < rounds:  # a finished run has nothing to refit
            training.fit_together(learners, strategy)
        if curves is None:
            curves = [
                [measure(learner, x_test, y_test)] for learner in learners
            ]
            if on_round is not None and on_round(curves):
                return curves
        else:
            curves = [list(curve) for curve in curves]
        bar = Progress(rounds, "round", enabled=bool(progress),
                       initial=finished)
        if finished:
            bar.update(finished, _shown(learners, curves))
        for done in range(finished + 1, rounds + 1):
            for learner, pool in zip(learners, pools, strict=True):
                stop.check()
                chosen = learner.query(pool, n)
                learner.teach(pool, pool.oracle(chosen), indices=chosen,
                              fit=False)
            stop.check()
            training.fit_together(learners, strategy)
            for learner, curve in zip(learners, curves, strict=True):
                curve.append(measure(learner, x_test, y_test))
                learner.history_[-1]["after_teach"] = curve[-1]
            bar.update(done, _shown(learners, curves))
            if on_round is not None and on_round(curves):
                bar.finish()
                break
    return curves


def _finished(curves, learners, rounds):
    """The rounds the given curves finished, checked against the learners
    and `rounds`."""
    if len(curves) != len(learners) or not all(curves):
        raise ValueError(
            "Expected one curve per learner, each with its first "
            f"evaluation. Received {len(curves)} curves for {len(learners)} "
            "learners."
        )
    finished = len(curves[0]) - 1
    if any(len(curve) != finished + 1 for curve in curves):
        raise ValueError("The curves to continue differ in length.")
    if finished > rounds:
        raise ValueError(
            f"The curves have {finished} rounds; received rounds={rounds}."
        )
    return finished


def _shown(learners, curves):
    """What the progress line shows: the labelled count, and the latest
    test accuracy of each run (their mean and range past four runs)."""
    shown = [("labelled", learners[0].num_labelled)]
    accuracies = [curve[-1]["accuracy"] for curve in curves
                  if "accuracy" in curve[-1]]
    if len(accuracies) > 4:
        shown.append(("accuracy mean", sum(accuracies) / len(accuracies)))
        shown.append(("range", [min(accuracies), max(accuracies)]))
    elif accuracies:
        shown.append(("accuracy", accuracies))
    return shown


def _checked(learner, pool, rounds, x_test, y_test):
    if not isinstance(pool, Pool) or pool.y is None:
        raise ValueError(
            "Invalid value received for argument `pool`. Simulating needs a "
            "Pool created with its oracle labels: Pool(x, y)."
        )
    rounds = validation.positive_int(rounds, "rounds")
    if x_test is not None:
        # Validated once, then tested every round.
        x_test = validation.images(
            x_test, "x_test", learner.item_shape, learner.input_range
        )
        y_test = validation.labels(
            y_test, "y_test", len(x_test), learner.num_classes
        )
    return rounds, x_test, y_test
