"""Refitting the learners of K runs together, by a registered strategy.

`simulate_together` is `simulate` for K learners: each keeps its own
labelled set, seeds, history and curve; only the fits are shared, here.
The learners are reached through their public fit hooks
(`ActiveLearner.begin_fit` / `end_fit`), so each is reset, fitted and
counted exactly as its own `fit` would do it.
"""

from keras_dbal.training.strategies import STRATEGIES
from keras_dbal.training.strategies import choose

__all__ = ["fit_together"]


def fit_together(learners, strategy="auto"):
    """Refit K learners, each on its own labelled set of one common size.

    Each learner is reset and its weight decay set as its own `fit` would
    (see `ActiveLearner.fit`), with the same seed, so its model is trained
    on the same batches as its own `fit` would train it. A learner with a
    `checkpoint_dir` then checkpoints, as after `teach`.

    Args:
        learners: `ActiveLearner`s taught the same number of labels.
        strategy: `"auto"` or a name in `STRATEGIES`. The compiled
            strategies need every learner's `fit_kwargs` to hold only
            `epochs`, `batch_size` (the same for all), `verbose` and
            `shuffle=True`, and models compiled with
            `steps_per_execution=1`; otherwise `"auto"` fits them
            sequentially and the others raise.

    Raises:
        ValueError: no learners, one twice, different label counts, or a
            strategy the learners' fit arguments do not allow.
    """
    learners = list(learners)
    _check_common(learners)
    requested, name = strategy, choose(strategy)
    models = [learner.model for learner in learners]
    kwargs = [learner.fit_arguments() for learner in learners]
    refusal = STRATEGIES[name].refusal(models, kwargs)
    if refusal:
        if requested != "auto":
            raise ValueError(
                f"strategy={name!r} cannot fit these runs: {refusal} Use "
                "strategy='sequential' (each learner's own model.fit)."
            )
        name = "sequential"
    plans = [learner.begin_fit() for learner in learners]
    STRATEGIES[name].fit(
        models,
        [learner.x_labelled_ for learner in learners],
        [learner.y_labelled_ for learner in learners],
        [seed for seed, _ in plans],
        [fit_kwargs for _, fit_kwargs in plans],
    )
    for learner in learners:
        # Counted once trained, so a failed fit is retried with its seed.
        learner.end_fit()
        if learner.checkpoint_dir is not None:
            learner.checkpoint()


def _check_common(learners):
    if not learners:
        raise ValueError("Received no learners to fit.")
    if len({id(learner) for learner in learners}) < len(learners):
        raise ValueError("Received the same learner more than once.")
    counts = {learner.num_labelled for learner in learners}
    if len(counts) > 1:
        raise ValueError(
            "Runs fitted together must hold the same number of labels. "
            f"Received counts {sorted(counts)}."
        )
