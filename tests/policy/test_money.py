from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.errors import UsageError
from worker.money import (
    MINOR_UNITS,
    UnknownCurrencyError,
    allocate,
    convert,
    floor_money,
    format_money,
    is_rounded,
    minor_units,
    parse_money,
    quantum,
    round_money,
)


@pytest.mark.parametrize(
    ("currency", "units"),
    [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("VND", 0), ("KWD", 3), ("BHD", 3), ("TND", 3), ("CLF", 4),
     ("ISK", 0), ("HUF", 2), ("usd", 2)],
)  # fmt: skip
def test_minor_units_follow_iso_4217(currency: str, units: int) -> None:
    assert minor_units(currency) == units
    assert quantum(currency) == D(1).scaleb(-units)


def test_unknown_currency_is_refused_not_guessed() -> None:
    with pytest.raises(UnknownCurrencyError, match="XYZ"):
        minor_units("XYZ")
    assert isinstance(UnknownCurrencyError("x"), UsageError)


def test_rounding_is_half_up_to_the_minor_unit() -> None:
    assert str(round_money(D("10.005"), "USD")) == "10.01"
    assert str(round_money(D("1234.5"), "JPY")) == "1235"
    assert str(round_money(D("1.2345"), "KWD")) == "1.235"
    assert str(floor_money(D("10.009"), "USD")) == "10.00"
    assert str(round_money(7, "USD")) == "7.00"


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError):
        round_money(0.1, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        round_money(True, "USD")  # type: ignore[arg-type]


def test_parse_and_format() -> None:
    assert parse_money(" 12.5 ", "USD") == D("12.50")
    assert format_money(D("12.5"), "USD") == "12.50 USD"
    assert format_money(D("1000"), "JPY") == "1000 JPY"
    with pytest.raises(UsageError, match="more decimals than JPY"):
        parse_money("10.5", "JPY")
    with pytest.raises(UsageError, match="not an amount"):
        parse_money("ten", "USD")
    with pytest.raises(UsageError, match="not an amount"):
        parse_money("NaN", "USD")


def test_allocate_splits_exactly_with_largest_remainder() -> None:
    assert allocate(D("10.00"), [D(1), D(1), D(1)], "USD") == [D("3.34"), D("3.33"), D("3.33")]
    assert allocate(D("100"), [D(1), D(2)], "JPY") == [D("33"), D("67")]
    assert allocate(D("0.00"), [D(0), D(0)], "USD") == [D("0.00"), D("0.00")]
    assert allocate(D("1.00"), [D(0), D(0)], "USD") == [D("0.50"), D("0.50")]
    with pytest.raises(ValueError, match="not rounded"):
        allocate(D("1.001"), [D(1)], "USD")
    with pytest.raises(ValueError, match="no parts"):
        allocate(D("1.00"), [], "USD")


def test_convert_floors_into_the_target_currency() -> None:
    assert convert(D("10.00"), D("0.925"), "EUR") == D("9.25")
    assert convert(D("10.00"), D("155.55"), "JPY") == D("1555")


currencies = st.sampled_from(sorted(MINOR_UNITS))


@given(
    currency=currencies,
    units=st.integers(min_value=0, max_value=10**9),
    weights=st.lists(st.decimals(min_value=0, max_value=10**6, places=2), min_size=1, max_size=8),
)
def test_allocation_always_sums_to_the_total_in_minor_units(currency: str, units: int, weights: list[D]) -> None:
    total = D(units).scaleb(-minor_units(currency))
    parts = allocate(total, weights, currency)
    assert sum(parts) == total
    assert all(is_rounded(p, currency) and p >= 0 for p in parts)
    assert all(p.as_tuple().exponent == -minor_units(currency) for p in parts)
    weight_sum = sum(weights)
    if weight_sum > 0:
        for part, weight in zip(parts, weights, strict=True):
            assert abs(part - total * weight / weight_sum) < quantum(currency)
