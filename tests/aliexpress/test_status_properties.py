"""Whatever the gateway sends, the mapping answers; it never raises and flags what it does not know."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as s

from integrations.aliexpress import status as st

known_status = s.sampled_from([*st.ORDER_STATUS_STATES, "FINISH"])
anything = s.one_of(s.none(), s.text(max_size=40))


@given(order_status=s.one_of(known_status, anything), end_reason=anything, logistics=anything)
def test_map_status_is_total(order_status: str | None, end_reason: str | None, logistics: str | None) -> None:
    reading = st.map_status(order_status, end_reason, logistics)
    assert reading.state in st.STATES
    if reading.state == st.UNKNOWN:
        assert not reading.known
        assert reading.reason
    if reading.known:
        assert reading.state != st.UNKNOWN
