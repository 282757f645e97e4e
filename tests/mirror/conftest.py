"""Fixtures the mirror's tests share with the cancellation's."""

from tests.cancellation.conftest import published  # noqa: F401  (fixture: the outbox publisher recorded)
