"""Money in a currency: ISO 4217 minor units and currency-correct rounding, Decimal only.

Rules every caller can rely on:

* An amount "in a currency" has exactly that currency's minor units as its exponent once passed through
  :func:`round_money` / :func:`floor_money` (USD ``12.30``, JPY ``1230``, KWD ``1.230``).
* Floats are refused (``TypeError``): a float has already lost the cent it was meant to carry.
* An unknown currency code raises :class:`UnknownCurrencyError` instead of guessing two decimals; a
  wrong guess would refund 100 times too much in JPY or 10 times too little in KWD.
* :func:`allocate` splits a total into parts that sum to it exactly, each part a multiple of the minor
  unit (largest remainder), so splitting a refund over lines never creates or loses a cent.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from worker.errors import UsageError

#: ISO 4217 minor units of every active code (and a few withdrawn ones older orders may still carry).
#: Codes not listed here use two decimals per ISO 4217; they are listed by exponent to stay readable.
_ZERO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE_DECIMALS = "BHD IQD JOD KWD LYD OMR TND"
_FOUR_DECIMALS = "CLF UYW"
_TWO_DECIMALS = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL "
    "GHS GIP GMD GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR "
    "LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB "
    "PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP "
    "SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL"
)

MINOR_UNITS: dict[str, int] = {
    code: exponent
    for exponent, codes in ((0, _ZERO_DECIMALS), (2, _TWO_DECIMALS), (3, _THREE_DECIMALS), (4, _FOUR_DECIMALS))
    for code in codes.split()
}


_QUANTA: dict[str, Decimal] = {code: Decimal(1).scaleb(-exponent) for code, exponent in MINOR_UNITS.items()}


class UnknownCurrencyError(UsageError):
    """The code is not an ISO 4217 currency this module knows."""


def minor_units(currency: str) -> int:
    """Decimal places of ``currency`` (``JPY`` 0, ``USD`` 2, ``KWD`` 3); raises on an unknown code."""
    try:
        return MINOR_UNITS[currency.upper()]
    except KeyError:
        raise UnknownCurrencyError(f"unknown currency {currency!r} (not an ISO 4217 code)") from None


def is_currency(code: str) -> bool:
    return code.upper() in MINOR_UNITS


def quantum(currency: str) -> Decimal:
    """The smallest amount of ``currency``: ``Decimal('0.01')`` for USD, ``Decimal('1')`` for JPY."""
    found = _QUANTA.get(currency) or _QUANTA.get(currency.upper())
    if found is None:
        raise UnknownCurrencyError(f"unknown currency {currency!r} (not an ISO 4217 code)")
    return found


def _as_decimal(amount: Decimal | int) -> Decimal:
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, int)):
        # A float here has already lost precision: refuse it instead of rounding a near value.
        raise TypeError(f"money amounts must be Decimal or int, not {type(amount).__name__}")
    return Decimal(amount)


def round_money(amount: Decimal | int, currency: str, rounding: str = ROUND_HALF_UP) -> Decimal:
    """``amount`` rounded to the currency's minor unit (half up, the commercial rule, by default)."""
    return _as_decimal(amount).quantize(quantum(currency), rounding=rounding)


def floor_money(amount: Decimal | int, currency: str) -> Decimal:
    """``amount`` rounded toward zero to the minor unit: for shares that must never overshoot a total."""
    return round_money(amount, currency, rounding=ROUND_DOWN)


def zero(currency: str) -> Decimal:
    return round_money(Decimal(0), currency)


def is_rounded(amount: Decimal, currency: str) -> bool:
    """True when ``amount`` carries no more precision than the currency's minor unit."""
    return _as_decimal(amount) == round_money(amount, currency, rounding=ROUND_DOWN)


def parse_money(text: str, currency: str) -> Decimal:
    """A typed-in amount (``"12.50"``) in ``currency``; refuses text, floats' noise and excess decimals."""
    try:
        value = Decimal(text.strip())
    except ArithmeticError:
        raise UsageError(f"not an amount: {text!r}") from None
    if not value.is_finite():
        raise UsageError(f"not an amount: {text!r}")
    if not is_rounded(value, currency):
        raise UsageError(f"{text} has more decimals than {currency.upper()} allows ({minor_units(currency)})")
    return round_money(value, currency)


def wire_amount(amount: Decimal | int, currency: str) -> str:
    """``amount`` as the text of Shopify's ``Decimal``/``Money`` input: floored to the currency's minor
    unit, so a share of a refund never overshoots what it was cut from (``"12.30"`` USD, ``"1230"`` JPY,
    ``"1.230"`` KWD). Every amount dropsync sends to Shopify goes through here."""
    return str(floor_money(amount, currency))


def format_money(amount: Decimal, currency: str) -> str:
    """``"12.50 USD"``: the amount at the currency's precision, then the code."""
    return f"{round_money(amount, currency)} {currency.upper()}"


def allocate(total: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Split ``total`` over ``weights`` proportionally; the parts sum to ``total`` exactly.

    Each part is a multiple of the minor unit; the units left over after flooring go to the largest
    remainders (ties to the earliest part), so no part exceeds its exact share by a whole unit. All
    weights zero: the split is equal. ``total`` must already be rounded to the currency.
    """
    if total < 0 or not is_rounded(total, currency):
        raise ValueError(f"{total} is negative or not rounded to {currency}'s minor unit")
    if not weights:
        if total != 0:
            raise ValueError("cannot allocate a non-zero total over no parts")
        return []
    if any(w < 0 for w in weights):
        raise ValueError("allocation weights must be non-negative")
    unit = quantum(currency)
    units_total = int(total / unit)
    basis = list(weights) if sum(weights) > 0 else [Decimal(1)] * len(weights)
    weight_sum = sum(basis)
    exact = [Decimal(units_total) * w / weight_sum for w in basis]
    floors = [int(e.to_integral_value(rounding=ROUND_DOWN)) for e in exact]
    left = units_total - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[: abs(left)]:
        floors[i] += 1 if left > 0 else -1
    return [round_money(Decimal(units) * unit, currency) for units in floors]


def convert(amount: Decimal, rate: Decimal, currency: str) -> Decimal:
    """``amount`` times an exchange ``rate`` into ``currency``, floored (an estimate must not overstate)."""
    return floor_money(_as_decimal(amount) * rate, currency)
