"""A customer: attributes sampled once at acquisition, state that evolves per visit."""

from __future__ import annotations

import math

from sim.model.rng import (
    A_ABUSE,
    A_LOYALTY,
    A_REFERRAL,
    A_REQUEST_RATE,
    A_SEGMENT,
    A_TOLERANCE,
    A_UNREASONABLE,
    A_VOT,
    A_WTP,
    TO_UNIT,
    Words,
)
from sim.scenario.model import Segment


class Customer:
    """Plain attributes (slots): the per-visit code reads these millions of times."""

    __slots__ = (
        "abuse_propensity",
        "acquired_h",
        "entitlement",
        "expected_delight",
        "expected_level",
        "first_purchase_h",
        "in_cohort",
        "key",
        "last_period",
        "last_satisfaction",
        "latest_score",
        "loyalty",
        "measured",
        "referral_propensity",
        "referrals",
        "request_rate",
        "segment",
        "segment_spec",
        "served_in_window",
        "served_measured",
        "served_once",
        "spend",
        "unreasonable_share",
        "value_of_time_per_h",
        "visits",
        "wait_tolerance_h",
        "wtp",
    )

    def __init__(self, key: tuple[int, ...], words: Words,
                 segments: tuple[Segment, ...], cumulative_shares: tuple[float, ...],
                 acquired_h: float, measured: bool) -> None:
        """``words``: the customer's attribute block (sim/model/rng.py); only the slots
        read are converted to uniforms."""
        u_segment = (words[A_SEGMENT] + 0.5) * TO_UNIT
        index = 0
        while index < len(cumulative_shares) - 1 and u_segment >= cumulative_shares[index]:
            index += 1
        seg = segments[index]
        self.key = key
        self.segment = index
        self.segment_spec = seg
        self.wtp = seg.wtp.sample((words[A_WTP] + 0.5) * TO_UNIT)
        self.value_of_time_per_h = seg.value_of_time_per_h.sample((words[A_VOT] + 0.5) * TO_UNIT)
        self.wait_tolerance_h = seg.wait_tolerance.sample((words[A_TOLERANCE] + 0.5) * TO_UNIT)
        self.request_rate = seg.request_rate.sample((words[A_REQUEST_RATE] + 0.5) * TO_UNIT)
        self.unreasonable_share = seg.unreasonable_share.sample(
            (words[A_UNREASONABLE] + 0.5) * TO_UNIT)
        self.abuse_propensity = seg.abuse_propensity.sample((words[A_ABUSE] + 0.5) * TO_UNIT)
        self.referral_propensity = seg.referral_propensity.sample(
            (words[A_REFERRAL] + 0.5) * TO_UNIT)
        self.loyalty = seg.loyalty.sample((words[A_LOYALTY] + 0.5) * TO_UNIT)
        self.expected_level = seg.expected_service_level
        self.entitlement = 0.0
        self.expected_delight = 0.0
        self.spend = 0.0
        self.visits = 0
        self.referrals = 0
        self.last_satisfaction = -1.0
        self.last_period = -2
        self.served_once = False
        self.served_in_window = False
        self.served_measured = False  # the current visit was served in the measured window
        self.first_purchase_h = -1.0
        self.in_cohort = False  # reached in the measured window, then bought
        self.latest_score = -1.0  # satisfaction of the latest served visit in the window
        self.acquired_h = acquired_h
        self.measured = measured  # reached in the measured window

    @property
    def customer_since_h(self) -> float:
        """Since when the customer has been the firm's customer without a break: for one
        firm, its first purchase (a customer of one firm is lost only by churning)."""
        return self.first_purchase_h


RELATION = ("served_measured", "served_once", "last_satisfaction", "spend",
            "first_purchase_h", "in_cohort", "measured", "served_in_window", "last_period",
            "latest_score")
"""A customer's attributes that describe its relation with one firm (the rest are the
person's: its tastes, expectations, entitlement). On a market of rival firms each firm
keeps them in a :class:`Patron`; the customer carries the relation with the firm it is
visiting (sim/model/market.py)."""


class Patron:
    """One customer's relation with one firm on a market of rival firms: what the firm's
    books and the customer's memory of that firm hold."""

    __slots__ = ("customer_since_h", "segment", "visits", *RELATION)

    def __init__(self, segment: int, prospect_measured: bool) -> None:
        self.segment = segment
        self.visits = 0
        """Visits to this firm (spillover tries included)."""
        self.served_measured = False
        self.served_once = False
        self.last_satisfaction = -1.0
        self.spend = 0.0
        self.first_purchase_h = -1.0
        self.in_cohort = False
        self.measured = prospect_measured
        """This firm's prospect, reached in the measured window."""
        self.served_in_window = False
        self.last_period = -2
        self.latest_score = -1.0
        self.customer_since_h = math.inf
        """Since when the customer has been this firm's customer without a break: the
        end of the served visit that made this firm the one it was last served at (its
        first purchase there, or a purchase after it had bought at a rival); infinite
        while the firm is not the one it was last served at (docs/model.md, "Market of
        rival firms": per-firm retention). The market sets it (sim/model/market.py)."""
