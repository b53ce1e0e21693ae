"""What a batch acquisition is: the base of `BatchBALD` and
`StochasticBatch`, and of your own."""

__all__ = ["BatchAcquisition"]


class BatchAcquisition:
    """Chooses n pool images that are informative together.

    A subclass sets `name` (how results name it), implements `select`, and
    returns its constructor arguments from `get_config`, so that
    `from_config(get_config())` rebuilds it (as Keras layers do) and a
    checkpoint can save it. `scores_with` names the registered single-image
    score it reads, which says whether it needs a Bayesian model; None
    when it reads none of them.

    Any object with a `select` method of this signature is accepted as a
    batch acquisition; this class only saves writing the rest again.
    """

    name = None
    scores_with = None

    def get_config(self):
        """The constructor arguments, as a dict."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        """The acquisition `get_config` describes.

        Args:
            config: A dict from `get_config`.
        """
        return cls(**config)

    def __repr__(self):
        arguments = ", ".join(
            f"{key}={value!r}" for key, value in self.get_config().items()
        )
        return f"{type(self).__name__}({arguments})"

    def select(
        self, sampler, images, positions, n, *, exclude, seed, verbose
    ):
        """The n positions of a batch, in the order chosen.

        Args:
            sampler: The learner's `MCSampler`.
            images: The pool's images (array or `tf.data.Dataset`).
            positions: The positions that may be chosen (None: all of a
                dataset).
            n: Batch size.
            exclude: Positions of a dataset never to choose.
            seed: Integer seed of every random choice it makes.
            verbose: 1 shows a progress bar while scoring.

        Returns:
            `(positions, scores)`: the chosen positions in the order
            chosen, and a score for each.
        """
        raise NotImplementedError
