"""`ActiveLearner`: the labelled set, fitting, querying and the history."""


import keras_dbal.active.labelled as labelled
import keras_dbal.active.learner_state as learner_state
import keras_dbal.active.prediction as prediction
import keras_dbal.active.selection as selection
import keras_dbal.batch_acquisition.registry as acquisitions
import keras_dbal.training.refit as refit
from keras_dbal.active.fitting import Fitting
from keras_dbal.active.model_checks import check_acquisition
from keras_dbal.active.model_checks import check_model
from keras_dbal.active.model_checks import classifier_signature
from keras_dbal.active.persistence import Checkpointed
from keras_dbal.active.pool import Pool
from keras_dbal.sampling.sampler import MCSampler
from keras_dbal.utils import validation

__all__ = ["ActiveLearner", "NotFittedError"]


class NotFittedError(ValueError, AttributeError):
    """The learner was used before anything was taught to it."""


class ActiveLearner(Fitting, Checkpointed):
    """Pool-based active learning around a compiled Keras model.

    The learner keeps the labelled set, (re)fits the model on it through
    `model.fit`, and scores unlabelled images with Monte Carlo dropout
    (`MCSampler`) and an acquisition function to choose which to label
    next, following Gal, Islam & Ghahramani (2017).

    Args:
        model: A compiled, built Keras classifier (Sequential, functional
            or subclassed) whose output is class probabilities
            `(batch, C)`, C >= 2 (checked once, on random images), or
            logits with `from_logits=True`; `MCDropout` layers make it
            Bayesian (see `keras_dbal.gal_cnn`).
        acquisition: A name in `keras_dbal.batch_acquisition.all_names()`,
            a function `(T, N, C) -> (N,)` or a batch acquisition object.
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
        equal_batches: Cut each fit's labelled set into batches of one
            size, as many as `fit_kwargs["batch_size"]` gives (130 labels
            at 128: two of 65), instead of full batches and a smaller last
            one (`model.fit`'s way, and the paper's protocol), whose last
            step on a few images costs test error (README, "The dip at 130
            labels").
        allow_deterministic: Allow an acquisition function that measures
            model uncertainty (BALD, variation ratios, mean std) on a model
            without `MCDropout`, where it is constant; off by default,
            because that is usually a mistake.
        seed: Integer seed of every random choice the learner makes: pool
            subsets, dropout masks, tie breaks, random acquisition, and the
            Keras global seed before each fit. The same seed gives the same
            queries.
        checkpoint_dir: If set, a new state directory into which every
            `teach` checkpoints atomically, when the labels are added and
            after the fit (continue one with `ActiveLearner.load`). The
            learner holds its lock until `close()`, garbage collection or
            process exit: another process gets a `StateLockedError`.
        verbose: 1 shows progress bars while scoring the pool.
        input_range: `(low, high)` that image values must lie in; images
            outside it are refused wherever they arrive (`teach`,
            `query`, `predict`, `evaluate`; a dataset as it is read).
            keras_dbal's loaders give images in [0, 1], the default; 8-bit
            images (0..255) given by mistake train a model that learns
            nothing, without an error. For a model that takes other
            values (it normalises its own inputs), give its range, or
            None to check nothing.

    After each fit the model's predictions of its own labelled set are
    checked: a `ChanceLevelWarning` (once per learner) says when they are
    no better than chance, which almost always means too few epochs or
    too small a learning rate (its queries are then no better than
    random).

    Attributes:
        x_labelled_: The labelled images, in the order they were taught.
        y_labelled_: Their integer labels.
        pool_indices_: For each labelled image, its position in the `Pool`
            it came from, or -1 if it was taught directly.
        history_: One dict per query: `round`, `num_labelled` (before it),
            `indices`, `scores` (BatchBALD's: each image's gain), and from
            `simulate`, `after_teach` (the count and test metrics then).
        initial_weights_, initial_optimizer_state_: What every reset
            returns the weights and optimizer variables to.
        pool_: `{"size", "fingerprint"}` of the taught `Pool`, or None.

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
        equal_batches=False,
        seed=None,
        checkpoint_dir=None,
        verbose=0,
        input_range=(0.0, 1.0),
    ):
        self.model = check_model(model)
        self.acquisition = acquisition
        self.acquisition_fn = acquisitions.get(acquisition)
        self.acquisition_name = acquisitions.name_of(self.acquisition_fn)
        self.reset_weights = bool(reset_weights)
        self.fit_kwargs = {"verbose": 0, **(fit_kwargs or {})}
        if pool_subset is not None:
            validation.positive_int(pool_subset, "pool_subset")
        self.pool_subset = pool_subset
        self.allow_deterministic = bool(allow_deterministic)
        self.equal_batches = bool(equal_batches)
        self.seed = validation.seed(seed)
        self.verbose = verbose
        # The sampler holds the sampling settings; the learner reads them
        # from it (see the properties below), never a copy.
        self.sampler = MCSampler(
            model, mc_samples, chunk_size=chunk_size, seed=seed,
            consistent_masks=consistent_masks, from_logits=from_logits,
            input_range=input_range,
        )
        check_acquisition(
            self.acquisition_fn, self.sampler, self.allow_deterministic
        )
        self.item_shape, self.num_classes = classifier_signature(
            model, self.from_logits
        )
        self.initial_weights_, self.initial_optimizer_state_ = (
            refit.snapshot(model)
        )
        self.x_labelled_, self.y_labelled_, self.pool_indices_ = (
            labelled.empty(self.item_shape)
        )
        self.history_ = []
        self.num_fits_ = 0
        self.pool_ = None
        self._warned_at_chance = False
        self._samplers = prediction.Samplers(self.sampler)
        self._store = None
        if checkpoint_dir is not None:
            self._store = learner_state.Store.claim(checkpoint_dir)

    @property
    def mc_samples(self):
        """T, the sampler's stochastic passes per image."""
        return self.sampler.mc_samples

    @property
    def consistent_masks(self):
        """Whether the sampler shares dropout masks across images."""
        return self.sampler.consistent_masks

    @property
    def from_logits(self):
        """Whether the model outputs logits."""
        return self.sampler.from_logits

    @property
    def input_range(self):
        """`(low, high)` that image values must lie in, or None."""
        return self.sampler.input_range

    @property
    def num_labelled(self):
        """Number of labelled images taught so far."""
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
        if self._store is not None:
            self._store.check()
        x = self._checked_inputs(x, "x")
        self._sync_pool(x)
        images, labels, positions, pool = labelled.incoming(
            x, y, indices, item_shape=self.item_shape,
            num_classes=self.num_classes, record=self.pool_,
        )
        if pool is not None:
            pool.mark_labelled(positions, labels)
            self.pool_ = pool.identity()
        self.x_labelled_, self.y_labelled_, self.pool_indices_ = (
            labelled.extend(
                (self.x_labelled_, self.y_labelled_, self.pool_indices_),
                (images, labels, positions),
            )
        )
        if self._store is not None:
            # The labels are on disk before the (long) fit starts.
            self._store.write(self, needs_fit=fit)
        if fit:
            self.fit()
            if self._store is not None:
                self._store.write(self)
        return self

    def query(self, pool, n=10, *, exclude=None):
        """The n pool images to label next, best first.

        Args:
            pool: A `Pool` (labelled images are never proposed), or images
                as a numpy array, tensor or `tf.data.Dataset` (every image
                is a candidate except the positions in `exclude`).
            n: Number of images to return.
            exclude: Positions never to propose (arrays and datasets).

        Returns:
            int64 positions into the pool, best first (a batch
            acquisition: in the order it chose them).

        Raises:
            ValueError: n is more than the unlabelled images, or than
                `pool_subset`, the images one query scores.
        """
        self._check_taught()
        self._checked_inputs(pool, "pool")
        self._sync_pool(pool)
        chosen, scores = selection.choose(
            pool, n, exclude=exclude, sampler=self.sampler,
            acquisition=self.acquisition_fn, pool_subset=self.pool_subset,
            item_shape=self.item_shape, verbose=self.verbose,
            seed=selection.derive_seed(self.seed, "query", self.round),
        )
        self.history_.append({
            "round": self.round,
            "num_labelled": self.num_labelled,
            "indices": chosen.tolist(),
            "scores": scores.astype(float).tolist(),
        })
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
        x = self._checked_inputs(x, "x")
        if not dropout:
            return self.sampler.predict_without_dropout(x)
        if seed is None:
            seed = selection.derive_seed(self.seed, "predict", self.round)
        sampler = self._samplers.get(mc_samples)
        return sampler.sample(x, seed=seed).mean(axis=0)

    def predict_both_ways(self, x, *, mc_samples=None, seed=None):
        """`predict(x)` and `predict(x, dropout=False)` in one pass over
        `x`, the model's deterministic prefix (the layers before its first
        `MCDropout`) run once for both: what a simulated experiment
        measures on its test set every round.

        Args:
            x: Images (array, tensor or `tf.data.Dataset`).
            mc_samples: T for this call; defaults to the learner's.
            seed: Integer seed; defaults to one derived from the learner's.

        Returns:
            `(with_dropout, without_dropout)`: float32 `(N, C)` arrays,
            the same as the two calls give.
        """
        x = self._checked_inputs(x, "x")
        if seed is None:
            seed = selection.derive_seed(self.seed, "predict", self.round)
        sampler = self._samplers.get(mc_samples)
        samples, without = sampler.sample_both_ways(x, seed=seed)
        return samples.mean(axis=0), without

    def evaluate(self, x, y, *, mc_samples=None, dropout=True):
        """Accuracy, NLL, ROC AUC and recall of the predictions.

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
            `accuracy`, `error`, `nll`, `balanced_accuracy`, `auc` (ROC;
            one-vs-rest mean, NaN if `y` lacks a class), per-class `recall`.
        """
        images = validation.images(
            x, "x", self.item_shape, self.input_range
        )
        labels = validation.labels(y, "y", len(images), self.num_classes)
        probs = self.predict(images, mc_samples=mc_samples, dropout=dropout)
        return prediction.metrics(probs, labels)

    def _checked_inputs(self, x, name):
        """`x` refused unless the model can take it: the item shape of a
        `Pool`'s images, an array's or a dataset's (its `element_spec`,
        before it is read), and the values of a `Pool` or an array (a
        dataset's as the sampler reads it), with the messages of
        `keras_dbal.utils.validation`."""
        if isinstance(x, Pool):
            validation.batch_shape(x.x.shape, name, self.item_shape)
            validation.within(x.x, name, self.input_range)
            return x
        if hasattr(x, "as_numpy_iterator"):
            return validation.dataset(x, name, self.item_shape)
        return validation.images(x, name, self.item_shape, self.input_range)

    def _sync_pool(self, pool, adopt=False):
        """Bring a `Pool` in line with the learner's record (see
        `keras_dbal.active.labelled`); with `adopt`, a learner with no
        pool yet takes this one as its pool."""
        if not isinstance(pool, Pool):
            return
        if adopt and self.pool_ is None:
            self.pool_ = pool.identity()
        labelled.sync_pool(
            pool, self.pool_, self.pool_indices_, self.y_labelled_
        )

    def _check_taught(self):
        if self.num_labelled == 0:
            raise NotFittedError(
                "This ActiveLearner has no labelled data yet: call "
                "teach(x, y) with an initial labelled set first."
            )
