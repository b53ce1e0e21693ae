"""Speed, memory and accuracy measurements; never run as tests."""

# First, before a benchmark imports Keras: run as `python -m benchmarks.NAME`,
# keras_dbal starts the backend with TensorFlow's start-up notes kept off
# stderr (keras_dbal._quiet).
import keras_dbal  # noqa: F401
