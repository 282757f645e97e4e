"""Which Admin API version answers a request, the way Shopify picks it.

Shopify releases a stable version every quarter (``YYYY-01/04/07/10``) and supports each for at least
12 months. A well-formed ``YYYY-MM`` that is not supported (too old, not a release month, not released
yet) falls forward to the oldest supported stable version; every answer names the version it was served
with in ``X-Shopify-API-Version``. Anything else in the path (``latest``, ``2026-1``, ``2026-13``) is not found.

The sandbox implements one schema (its native version, 2026-10 by default) and serves the recent versions
it supports from it: order-sync fields have kept their shape across them.
"""

from __future__ import annotations

import re

WELL_FORMED = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")  # a year and a month (2026-13 names no version)
SUPPORTED_COUNT = 5  # the native version and the four before it: five quarters, Shopify's 12+ months
HEADER = "X-Shopify-API-Version"


def _quarter_before(version: str) -> str:
    year, month = int(version[:4]), int(version[5:])
    month -= 3
    if month < 1:
        year, month = year - 1, month + 12
    return f"{year:04d}-{month:02d}"


def supported_versions(native: str) -> tuple[str, ...]:
    """Oldest first: the ``SUPPORTED_COUNT`` quarterly releases ending with ``native``."""
    versions = [native]
    for _ in range(SUPPORTED_COUNT - 1):
        versions.append(_quarter_before(versions[-1]))
    return tuple(reversed(versions))


def served_version(requested: str, native: str) -> str | None:
    """The version Shopify would answer ``requested`` with; None when the path names no version at all."""
    if requested == "unstable":
        return requested
    if not WELL_FORMED.match(requested):
        return None
    supported = supported_versions(native)
    return requested if requested in supported else supported[0]
