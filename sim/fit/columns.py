"""Which column of a transaction log holds what: the names ``simrun fit`` looks for.

Apart from :mod:`sim.fit.log` (which needs numpy) so that ``simrun --help`` can list the
``--*-column`` options without loading numerics.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Columns:
    """Which column of the file holds what (the options ``--customer-column`` and so on).

    The optional columns are used when the file has them; one named by an option
    (``explicit``) must be there."""

    customer: str = "customer_id"
    timestamp: str = "timestamp"
    amount: str = "amount"
    segment: str = "segment"
    service: str = "service_minutes"
    waited: str = "waited_minutes"
    abandoned: str = "abandoned"
    rating: str = "rating"
    tier: str = "tier"
    explicit: frozenset[str] = frozenset()
    """The optional roles named by the user."""

    REQUIRED = ("customer", "timestamp", "amount")
    OPTIONAL = ("segment", "service", "waited", "abandoned", "rating", "tier")
