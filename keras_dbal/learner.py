"""`ActiveLearner`: the labelled set, fitting, querying and the history."""

import os

import keras
import numpy as np

from keras_dbal import acquisition as acquisition_lib
from keras_dbal import backend
from keras_dbal import validation
from keras_dbal.checkpoint_folders import latest
from keras_dbal.data import Pool
from keras_dbal.locking import lock_directory
from keras_dbal.model_checks import classifier_signature
from keras_dbal.refit import prepare_fit
from keras_dbal.refit import variable_values
from keras_dbal.sampling import MCSampler

__all__ = ["ActiveLearner", "NotFittedError"]


class NotFittedError(ValueError, AttributeError):
    """The learner was used before anything was taught to it."""


class ActiveLearner:
    """Pool-based active learning around a compiled Keras model.

    The learner keeps the labelled set, (re)fits the model on it through
    `model.fit`, and scores unlabelled images with Monte Carlo dropout
    (`MCSampler`) and an acquisition function to choose which to label
    next, following Gal, Islam & Ghahramani (2017).

    Args:
        model: A compiled, built Keras classifier (Sequential, functional
            or subclassed) whose output is class probabilities
            `(batch, C)`, C >= 2, or logits with `from_logits=True`;
            `MCDropout` layers make it Bayesian (see `keras_dbal.gal_cnn`).
            Its output is checked once, on a few random images.
        acquisition: Name in `keras_dbal.acquisition.names()` or a function
            `(T, N, C) -> (N,)`.
        mc_samples: T, stochastic forward passes per image when querying
            and predicting.
        reset_weights: If True (the paper's protocol), every fit starts
            from the initial weights with a fresh optimizer; if False, it
            continues from the current weights (warm start).
        fit_kwargs: Passed to `model.fit` (`epochs`, `batch_size`,
            `callbacks`, ...). Default `{"verbose": 0}`.
        pool_subset: If set, each query scores a random subset of this many
            unlabelled images, as the authors' code does (2000 on MNIST).
        chunk_size: Pool images per compiled sampler call (see
            `MCSampler`).
        consistent_masks: Share dropout masks across pool images (see
            `MCSampler`).
        from_logits: Whether the model outputs logits; a softmax is then
            applied before scoring and in `predict`.
        allow_deterministic: Allow an acquisition function that measures
            model uncertainty (BALD, variation ratios, mean std) on a model
            without `MCDropout`, where it is constant; off by default,
            because that is usually a mistake.
        seed: Integer seed of every random choice the learner makes: pool
            subsets, dropout masks, tie breaks, random acquisition, and the
            Keras global seed before each fit. The same seed gives the same
            queries.
        checkpoint_dir: If set, a state directory (see
            `keras_dbal.checkpoint`) into which every `teach` checkpoints
            atomically: once when the labels are added and again after the
            fit. It must not hold a checkpoint yet; continue an existing
            one with `ActiveLearner.load`. The learner holds the
            directory's lock until `close()` (or until it is garbage
            collected, or its process ends): another process that tries to
            use the directory gets a `StateLockedError`.
        verbose: 1 shows progress bars while scoring the pool.

    Attributes:
        x_labelled_: The labelled images, in the order they were taught.
        y_labelled_: Their integer labels.
        pool_indices_: For each labelled image, its position in the `Pool`
            it came from, or -1 if it was taught directly.
        history_: One dict per query: `round`, `num_labelled` (before the
            query), `indices`, `scores`, and, from `run`, `after_teach`: the
            labelled count and test metrics once the queried images were
            taught.
        initial_weights_: The weights every reset returns to.
        initial_optimizer_state_: The optimizer variables every reset
            returns to.
        pool_: `{"size", "fingerprint"}` of the `Pool` the learner was
            taught from, or None.

    Example:

    >>> learner = ActiveLearner(model, acquisition="bald", seed=0)
    >>> learner.teach(x_init, y_init)
    >>> pool = keras_dbal.Pool(x_pool)
    >>> idx = learner.query(pool, n=10)
    >>> learner.teach(pool, y_new, indices=idx)
    """

    def __init__(
        self,
        model,
        acquisition="bald",
        mc_samples=20,
        *,
        reset_weights=True,
        fit_kwargs=None,
        pool_subset=None,
        chunk_size=None,
        consistent_masks=False,
        from_logits=False,
        allow_deterministic=False,
        seed=None,
        checkpoint_dir=None,
        verbose=0,
    ):
        if not isinstance(model, keras.Model):
            raise ValueError(
                "Invalid value received for argument `model`. Expected a "
                f"keras.Model. Received: {type(model).__name__}"
            )
        if not getattr(model, "compiled", False):
            raise ValueError(
                "The model must be compiled (model.compile(...)) before it is "
                "given to ActiveLearner."
            )
        if not model.built:
            raise ValueError(
                "The model must be built (created with keras.Input or called "
                "once) before it is given to ActiveLearner."
            )
        self.model = model
        self.acquisition = acquisition
        self.acquisition_fn = acquisition_lib.get(acquisition)
        self.acquisition_name = acquisition_lib.name_of(acquisition)
        self.mc_samples = validation.positive_int(mc_samples, "mc_samples")
        self.reset_weights = bool(reset_weights)
        self.fit_kwargs = {"verbose": 0, **(fit_kwargs or {})}
        if pool_subset is not None:
            validation.positive_int(pool_subset, "pool_subset")
        self.pool_subset = pool_subset
        self.consistent_masks = consistent_masks
        self.from_logits = bool(from_logits)
        self.allow_deterministic = bool(allow_deterministic)
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError(
                "Invalid value received for argument `seed`. Expected an "
                f"integer or None. Received: seed={seed!r}"
            )
        self.seed = seed
        self.verbose = verbose
        self.sampler = MCSampler(
            model,
            self.mc_samples,
            chunk_size=chunk_size,
            consistent_masks=consistent_masks,
            from_logits=self.from_logits,
            seed=seed,
        )
        if (
            self.acquisition_name in acquisition_lib.BAYESIAN
            and not self.sampler.is_stochastic
            and not self.allow_deterministic
        ):
            raise ValueError(
                f"Acquisition {self.acquisition_name!r} measures model "
                "uncertainty, but the model has no MCDropout layer, so all "
                f"{self.mc_samples} passes agree and every score is 0. Use "
                "a Bayesian model (gal_cnn(bayesian=True)), another "
                "acquisition function, or allow_deterministic=True."
            )
        self.item_shape, self.num_classes = classifier_signature(
            model, self.from_logits
        )
        self.initial_weights_ = model.get_weights()
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        self.initial_optimizer_state_ = variable_values(
            model.optimizer.variables
        )
        self.x_labelled_ = np.empty((0,) + self.item_shape, dtype="float32")
        self.y_labelled_ = np.empty(0, dtype="int64")
        self.pool_indices_ = np.empty(0, dtype="int64")
        self.history_ = []
        self.num_fits_ = 0
        self.pool_ = None
        self._lock = None
        if checkpoint_dir is not None:
            _check_no_checkpoint(checkpoint_dir)
            self._lock = lock_directory(checkpoint_dir)
            try:
                # Again under the lock: another process may have saved.
                _check_no_checkpoint(checkpoint_dir)
            except ValueError:
                self._lock.release()
                raise
        self.checkpoint_dir = checkpoint_dir

    @property
    def num_labelled(self):
        return len(self.y_labelled_)

    @property
    def round(self):
        """Number of queries made so far."""
        return len(self.history_)

    def teach(self, x, y, *, indices=None, fit=True):
        """Add labelled images and refit.

        Args:
            x: Images `(n, ...)`, or a `Pool` together with `indices`.
            y: Integer labels `(n,)` in `[0, C)`, or one-hot rows.
            indices: With a `Pool`, the positions being labelled; they must
                not be labelled yet.
            fit: Whether to refit now.

        Returns:
            self.
        """
        if self._lock is not None:
            self._lock.check()
        if isinstance(x, Pool):
            if indices is None:
                raise ValueError(
                    "Teaching from a Pool needs `indices`: the pool "
                    "positions that `y` labels."
                )
            pool = x
            self._check_same_pool(pool)
            self._sync_pool(pool)
            indices = pool.check_unlabelled(indices)
            images = pool.x[indices]
        else:
            if indices is not None:
                raise ValueError(
                    "`indices` is only meaningful when `x` is a Pool."
                )
            pool = None
            images = validation.images(x, "x", self.item_shape)
        labels = validation.labels(y, "y", len(images), self.num_classes)
        if pool is not None:
            pool.mark_labelled(indices, labels)
            self.pool_ = pool.identity()
        self.x_labelled_ = np.concatenate(
            [self.x_labelled_, images.astype(self.x_labelled_.dtype)]
        )
        self.y_labelled_ = np.concatenate([self.y_labelled_, labels])
        self.pool_indices_ = np.concatenate(
            [
                self.pool_indices_,
                indices if pool is not None else np.full(len(labels), -1),
            ]
        )
        if self.checkpoint_dir is not None:
            # The labels are on disk before the (long) fit starts.
            self.checkpoint(needs_fit=fit)
        if fit:
            self.fit()
            if self.checkpoint_dir is not None:
                self.checkpoint()
        return self

    def close(self):
        """Release the lock on `checkpoint_dir`; the learner stays usable
        in memory but writes no more checkpoints."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None
            self.checkpoint_dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def checkpoint(self, *, needs_fit=False):
        """Write a checkpoint into `checkpoint_dir` now."""
        if self.checkpoint_dir is None:
            raise ValueError(
                "This learner has no `checkpoint_dir`; use save(directory)."
            )
        return self.save(self.checkpoint_dir, needs_fit=needs_fit)

    def save(self, directory, *, needs_fit=False):
        """Write the whole learner state into a state directory, atomically.

        See `keras_dbal.checkpoint` for the layout. Returns the path of the
        new checkpoint. Into a directory other than `checkpoint_dir`, the
        directory's lock is taken for the duration of the save.
        """
        from keras_dbal.checkpoint import save_learner

        own = self._lock is not None and os.path.realpath(
            directory
        ) == os.path.realpath(self.checkpoint_dir)
        if own:
            self._lock.check()
            return save_learner(self, directory, needs_fit=needs_fit)
        with lock_directory(directory):
            return save_learner(self, directory, needs_fit=needs_fit)

    @classmethod
    def load(cls, directory, *, pool=None, acquisition=None, **overrides):
        """Continue a learner from the latest checkpoint in `directory`.

        Args:
            directory: The state directory.
            pool: The `Pool` it was taught from, if any: checked against
                the saved fingerprint, and its labels restored.
            acquisition: Only for a custom acquisition function.
            **overrides: Constructor arguments to change.
        """
        from keras_dbal.checkpoint import load_learner

        return load_learner(
            directory, pool=pool, acquisition=acquisition, **overrides
        )

    def fit(self, **fit_kwargs):
        """Fit the model on the labelled set.

        Resets to the initial weights first if `reset_weights`; updates the
        N of every `LabelScaledL2` weight decay to the labelled count.

        Args:
            **fit_kwargs: Override the learner's `fit_kwargs` for this fit.

        Returns:
            The `History` of `model.fit`.
        """
        self._check_taught()
        if self.reset_weights:
            prepare_fit(
                self.model,
                self.num_labelled,
                initial_weights=self.initial_weights_,
                initial_optimizer_state=self.initial_optimizer_state_,
            )
        else:
            prepare_fit(self.model, self.num_labelled)
        fit_seed = _derive_seed(self.seed, "fit", self.num_fits_)
        if fit_seed is not None:
            keras.utils.set_random_seed(fit_seed)
        self.num_fits_ += 1
        kwargs = {**self.fit_kwargs, **fit_kwargs}
        if kwargs.keys() & _NEEDS_ARRAYS or kwargs.get("shuffle") is False:
            return self.model.fit(
                self.x_labelled_, self.y_labelled_, **kwargs
            )
        inputs = backend.fit_inputs(
            self.x_labelled_,
            self.y_labelled_,
            kwargs.pop("batch_size", None),
            fit_seed,
        )
        kwargs.pop("shuffle", None)
        return self.model.fit(**inputs, **kwargs)

    def query(self, pool, n=10, *, exclude=None):
        """The n pool images to label next, best first.

        Args:
            pool: A `Pool` (labelled images are never proposed), or images
                as a numpy array, tensor or `tf.data.Dataset` (every image
                is a candidate except the positions in `exclude`).
            n: Number of images to return.
            exclude: Positions never to propose (arrays and datasets).

        Returns:
            int64 positions into the pool, best first.

        Raises:
            ValueError: n is more than the unlabelled images, or than
                `pool_subset`, the images one query scores.
        """
        self._check_taught()
        n = validation.positive_int(n, "n")
        if self.pool_subset is not None and n > self.pool_subset:
            raise ValueError(
                f"Invalid value received for argument `n`: n={n} is more "
                f"than pool_subset={self.pool_subset}, the number of images "
                "a query scores."
            )
        if isinstance(pool, Pool):
            self._sync_pool(pool)
        images, candidates, exclude = self._candidates(pool, exclude)
        if candidates is not None and n > len(candidates):
            raise ValueError(
                f"Invalid value received for argument `n`: asked for {n} "
                f"images but only {len(candidates)} are unlabelled."
            )
        round_seed = _derive_seed(self.seed, "query", self.round)
        if self.pool_subset is not None and candidates is not None:
            if len(candidates) > self.pool_subset:
                rng = np.random.default_rng(round_seed)
                candidates = np.sort(
                    rng.choice(candidates, self.pool_subset, replace=False)
                )
        if self.acquisition_fn is acquisition_lib.random:
            chosen, scores = self._random_query(candidates, n, round_seed)
        else:
            chosen, scores = self.sampler.top_n(
                images,
                self.acquisition_fn,
                n,
                indices=candidates,
                exclude=exclude,
                seed=round_seed,
                verbose=self.verbose,
            )
        if len(chosen) < n:
            raise ValueError(
                f"Invalid value received for argument `n`: asked for {n} "
                f"images but the pool offered only {len(chosen)}."
            )
        self.history_.append(
            {
                "round": self.round,
                "num_labelled": self.num_labelled,
                "indices": chosen.tolist(),
                "scores": scores.astype(float).tolist(),
            }
        )
        return chosen

    def predict(self, x, *, mc_samples=None, seed=None, dropout=True):
        """Predictive class probabilities, averaged over T MC passes.

        Args:
            x: Images (array, tensor or `tf.data.Dataset`).
            mc_samples: T for this call; defaults to the learner's.
            seed: Integer seed; defaults to one derived from the learner's.
            dropout: If False, one pass with every `MCDropout` switched
                off (standard dropout's weight scaling; see
                `MCSampler.predict_without_dropout`); `mc_samples` and
                `seed` are then unused.

        Returns:
            float32 numpy array `(N, C)`.
        """
        if not dropout:
            return self.sampler.predict_without_dropout(x)
        sampler = self.sampler
        if mc_samples is not None and mc_samples != self.mc_samples:
            sampler = MCSampler(
                self.model,
                validation.positive_int(mc_samples, "mc_samples"),
                chunk_size=self.sampler.chunk_size,
                from_logits=self.from_logits,
                seed=self.seed,
            )
        if seed is None:
            seed = _derive_seed(self.seed, "predict", self.round)
        return sampler.sample(x, seed=seed).mean(axis=0)

    def evaluate(self, x, y, *, mc_samples=None, dropout=True):
        """Accuracy and negative log-likelihood of the predictions.

        Args:
            x: Test images.
            y: Their integer labels.
            mc_samples: T for the MC-averaged prediction; defaults to the
                learner's.
            dropout: If False, evaluate one pass with every `MCDropout`
                switched off, as `model.evaluate` does for Keras `Dropout`
                (and as the authors' code of Gal et al., 2017, measured
                test error).

        Returns:
            `{"accuracy": float, "error": float, "nll": float}`.
        """
        images = validation.images(x, "x", self.item_shape)
        labels = validation.labels(y, "y", len(images), self.num_classes)
        probs = self.predict(images, mc_samples=mc_samples, dropout=dropout)
        return _metrics(probs, labels)

    def run(
        self, pool, rounds, n=10, *, x_test=None, y_test=None, progress=True
    ):
        """A simulated experiment: query, label from the oracle, refit.

        The model must already be taught an initial set. After every round
        (and once before the first) the test metrics are recorded.

        Args:
            pool: A `Pool` created with its true labels, `Pool(x, y)`.
            rounds: Number of acquisition rounds.
            n: Images acquired per round.
            x_test, y_test: Optional test set for the learning curve.
            progress: Show a progress bar over the rounds.

        Returns:
            A list with one dict per evaluation: `num_labelled` and, with a
            test set, `accuracy`, `error` and `nll` of the MC-averaged
            prediction and the same three of one pass with dropout off
            (`accuracy_without_dropout`, ...; see `evaluate`).
        """
        if not isinstance(pool, Pool) or pool.y is None:
            raise ValueError(
                "Invalid value received for argument `pool`. run() needs a "
                "Pool created with its oracle labels: Pool(x, y)."
            )
        rounds = validation.positive_int(rounds, "rounds")
        curve = [self._measure(x_test, y_test)]
        progress = keras.utils.Progbar(
            rounds,
            unit_name="round",
            verbose=1 if progress else 0,
            stateful_metrics=["labelled", "accuracy"],
        )
        for _ in range(rounds):
            chosen = self.query(pool, n)
            self.teach(pool, pool.oracle(chosen), indices=chosen)
            curve.append(self._measure(x_test, y_test))
            self.history_[-1]["after_teach"] = curve[-1]
            progress.add(1, [("labelled", self.num_labelled)] + [
                (key, value) for key, value in curve[-1].items()
                if key == "accuracy"
            ])
        return curve

    def _measure(self, x_test, y_test):
        record = {"num_labelled": self.num_labelled}
        if x_test is not None:
            # Validated once, then tested both ways.
            images = validation.images(x_test, "x_test", self.item_shape)
            labels = validation.labels(
                y_test, "y_test", len(images), self.num_classes
            )
            metrics = _metrics(self.predict(images), labels)
            # Without any MCDropout both ways of predicting are one and
            # the same deterministic pass.
            without = (
                _metrics(self.predict(images, dropout=False), labels)
                if self.sampler.is_stochastic else metrics
            )
            record.update(metrics)
            for key, value in without.items():
                record[f"{key}_without_dropout"] = value
        return record

    def _candidates(self, pool, exclude):
        if isinstance(pool, Pool):
            if exclude is not None:
                raise ValueError(
                    "`exclude` is not used with a Pool: it already knows "
                    "which images are labelled."
                )
            return pool.x, pool.unlabelled_indices, None
        if hasattr(pool, "as_numpy_iterator"):
            # A dataset's length is known only once it has been read: the
            # sampler skips `exclude` as it streams the pool.
            if exclude is not None:
                exclude = validation.indices(exclude, "exclude", None)
            return pool, None, exclude
        images = validation.images(pool, "pool", self.item_shape)
        candidates = np.arange(len(images))
        if exclude is not None:
            exclude = validation.indices(exclude, "exclude", len(images))
            candidates = np.setdiff1d(candidates, exclude)
        return images, candidates, None

    def _sync_pool(self, pool):
        """Mark in `pool` every position this learner has labels for.

        The learner's record is the truth: a fresh `Pool` of the same
        images (after `load` without `pool=`, say) must not offer or
        accept a labelled position again.
        """
        if self.pool_ is None or pool.identity() != self.pool_:
            return
        from_pool = self.pool_indices_ >= 0
        pool.restore_labels(
            self.pool_indices_[from_pool], self.y_labelled_[from_pool]
        )

    def _check_same_pool(self, pool):
        if self.pool_ is not None and pool.identity() != self.pool_:
            raise ValueError(
                "Invalid value received for argument `x`: this learner was "
                "taught from another Pool; positions of two pools cannot "
                "be told apart."
            )

    def _random_query(self, candidates, n, seed):
        if candidates is None:
            raise ValueError(
                "Random acquisition needs a Pool or an array pool, whose "
                "size is known."
            )
        rng = np.random.default_rng(seed)
        scores = rng.random(len(candidates)).astype("float32")
        order = np.argsort(-scores, kind="stable")[:n]
        return candidates[order], scores[order]

    def _check_taught(self):
        if self.num_labelled == 0:
            raise NotFittedError(
                "This ActiveLearner has no labelled data yet: call "
                "teach(x, y) with an initial labelled set first."
            )


# fit() arguments that only work on arrays, not on a tf.data pipeline.
_NEEDS_ARRAYS = frozenset({"validation_split", "sample_weight"})

_PURPOSES = {"fit": 0, "query": 1, "predict": 2}


def _check_no_checkpoint(directory):
    if latest(directory):
        raise ValueError(
            "Invalid value received for argument `checkpoint_dir`: "
            f"{directory} already holds a checkpoint. Continue it with "
            "ActiveLearner.load(checkpoint_dir), or choose an empty "
            "directory."
        )


def _metrics(probs, labels):
    """Accuracy, error and NLL of `(N, C)` probabilities for `labels`."""
    accuracy = float(np.mean(probs.argmax(axis=1) == labels))
    picked = np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)
    return {
        "accuracy": accuracy,
        "error": 1.0 - accuracy,
        "nll": float(-np.mean(np.log(picked))),
    }


def _derive_seed(seed, purpose, counter):
    """A 31-bit seed for one random choice, fixed by (seed, purpose, counter).

    Returns None when `seed` is None, so the choice is not reproducible.
    """
    if seed is None:
        return None
    entropy = [int(seed), _PURPOSES[purpose], counter]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0] >> 1)
