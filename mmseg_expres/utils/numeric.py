"""Comparisons for numeric checks, in which NaN and inf fail.

``error > worst`` and ``value > limit`` are False for NaN, so a check written that way
passes a device that returns NaN everywhere. These helpers rank a non-finite value above
every number, and accept a value only if it is finite.
"""
import math
from typing import Iterable, Mapping, Optional, Tuple


def within(value: float, limit: float) -> bool:
    """Whether ``value`` is finite and at most ``limit``."""
    return math.isfinite(value) and value <= limit


def worst_of(errors: Iterable[Tuple[str, float]]) -> Tuple[Optional[str], float]:
    """The name and value of the largest error; NaN and inf are larger than any number.

    Returns ``(None, 0.0)`` for no errors.
    """
    worst: Tuple[Optional[str], float] = (None, 0.0)
    for name, error in errors:
        if not math.isfinite(worst[1]):
            break  # the first non-finite error is the one to report
        if not math.isfinite(error) or error > worst[1]:
            worst = (name, error)
    return worst


def non_finite_losses(values: Mapping[str, object], also: Iterable[str] = ()) -> dict:
    """The entries of a log record (``train_step``'s log vars, a ``scalars.json`` line)
    that are losses (``'loss'`` in the name) or named in ``also``, and NaN or inf.

    Tensors count by their mean (a NaN or inf element makes it non-finite); entries that
    are not numbers are skipped. Returns ``{name: value}`` as floats.
    """
    names = set(also)
    bad = {}
    for name, value in values.items():
        if 'loss' not in name and name not in names:
            continue
        if hasattr(value, 'detach'):
            value = float(value.detach().float().mean())
        if isinstance(value, (int, float)) and not math.isfinite(value):
            bad[name] = float(value)
    return bad
