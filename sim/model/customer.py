"""A customer: attributes sampled once at acquisition, state that evolves per visit."""

from __future__ import annotations

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

    def __init__(self, key: tuple[int, ...], attributes: list[float],
                 segments: tuple[Segment, ...], cumulative_shares: tuple[float, ...],
                 acquired_h: float, measured: bool) -> None:
        u_segment = attributes[A_SEGMENT]
        index = 0
        while index < len(cumulative_shares) - 1 and u_segment >= cumulative_shares[index]:
            index += 1
        seg = segments[index]
        self.key = key
        self.segment = index
        self.segment_spec = seg
        self.wtp = seg.wtp.sample(attributes[A_WTP])
        self.value_of_time_per_h = seg.value_of_time_per_h.sample(attributes[A_VOT])
        self.wait_tolerance_h = seg.wait_tolerance.sample(attributes[A_TOLERANCE])
        self.request_rate = seg.request_rate.sample(attributes[A_REQUEST_RATE])
        self.unreasonable_share = seg.unreasonable_share.sample(attributes[A_UNREASONABLE])
        self.abuse_propensity = seg.abuse_propensity.sample(attributes[A_ABUSE])
        self.referral_propensity = seg.referral_propensity.sample(attributes[A_REFERRAL])
        self.loyalty = seg.loyalty.sample(attributes[A_LOYALTY])
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

    __slots__ = ("segment", "visits", *RELATION)

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
