"""How the labelling messages count: "1 image", "2 images"."""

__all__ = ["count"]


def count(number, noun, plural=None):
    """`number` and `noun`, the noun plural unless `number` is 1.

    Args:
        number: How many.
        noun: The singular noun.
        plural: The plural, if not `noun + "s"`.
    """
    return f"{number} {noun if number == 1 else plural or noun + 's'}"
