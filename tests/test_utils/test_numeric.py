"""NaN and inf fail every numeric check: the helpers the checks share."""
import math

import pytest

from mmseg_expres.utils.numeric import within, worst_of


@pytest.mark.parametrize('value, expected', [(0.5, True), (1.0, True), (1.5, False),
                                             (math.nan, False), (math.inf, False),
                                             (-math.inf, False)])
def test_within_accepts_only_finite_values_up_to_the_limit(value, expected):
    assert within(value, 1.0) is expected
    assert (value <= 1.0) is expected or not math.isfinite(value)


@pytest.mark.parametrize('bad', [math.nan, math.inf])
@pytest.mark.parametrize('position', [0, 1, 2])
def test_worst_of_ranks_nan_and_inf_above_every_number(bad, position):
    errors = [('a', 0.1), ('b', 0.3), ('c', 0.2)]
    errors.insert(position, ('bad', bad))
    name, value = worst_of(errors)
    assert name == 'bad' and (math.isnan(value) if math.isnan(bad) else value == bad)


def test_worst_of_finite_errors_and_of_none():
    assert worst_of([('a', 0.1), ('b', 0.3), ('c', 0.2)]) == ('b', 0.3)
    assert worst_of([]) == (None, 0.0)
