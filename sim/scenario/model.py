"""The typed scenario: frozen dataclasses, the only thing the simulation reads.

Each field carries its default, its valid range (``knob(..., ge=0)``) and, in the
docstring beneath it, its unit and meaning; ``simrun strategies`` and docs/scenario.md
are generated from these. Durations are hours; money is a plain number per visit
unless the name says otherwise. The loader (:mod:`sim.scenario.loader`) is the only
code that turns TOML into these objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Any

from sim.scenario.distributions import Distribution, constant
from sim.strategies.policies import (
    Everyone,
    Fix,
    HonourReasonable,
    NoAdaptation,
    RefundVerified,
    SelfSelect,
)

DURATION = "duration"
Hours = Annotated[float, DURATION]
"""A duration in hours; a scenario may write a number of hours or '45 min', '3 d'."""
Dist = Distribution
DurationDist = Annotated[Distribution, DURATION]
Policy = Annotated[Any, "policy"]
"""A registered policy: a kind name, or a table with ``kind`` and its settings."""


def knob(default: Any = dataclass, *, ge: float | None = None, gt: float | None = None,
         le: float | None = None, lt: float | None = None, role: str | None = None) -> Any:
    """A scenario field with its default and valid range (inclusive ge/le, strict gt/lt)."""
    meta = {"ge": ge, "gt": gt, "le": le, "lt": lt, "role": role}
    if default is dataclass:
        return field(metadata=meta)
    if isinstance(default, list | dict | Distribution) or hasattr(default, "__dataclass_fields__"):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


def gamma(mean_h: float, cv: float) -> Distribution:
    return Distribution("gamma", (mean_h, cv))


def exponential(mean: float) -> Distribution:
    return Distribution("exponential", (mean,))


MOVED_KEYS = {
    "strategy.lock_in": "lock-in is now a property of the market, the same for every "
                        "strategy: set market.lock_in",
    "market.initial_reputation": "a firm now starts at the market's norm: set "
                                 "market.norm_reputation",
}
"""Keys of earlier versions, with what replaced them (shown instead of 'did you mean')."""


@dataclass(frozen=True, slots=True)
class Run:
    name: str = ""
    """Name of the run; results go to results/<name>/. Default: the file's stem."""
    days: int = knob(540, gt=0)
    """Simulated days, warm-up included."""
    warmup_days: int = knob(180, ge=0)
    """Days simulated before measuring starts (the business fills up from empty); or
    "auto": found by MSER-5 on pilot replications before the run ('simrun warmup'),
    and the number found is written into the run's resolved scenario."""
    replications: int = knob(20, ge=1)
    """Independent replications; confidence intervals are over these."""
    seed: int = knob(2024, ge=0)
    """Root seed: every random stream derives from (seed, replication, source)."""
    retention_period_days: int = knob(90, ge=1)
    """Length of the periods of customer retention and the repeat rate, days: about the
    time in which a customer would normally come back (a salon: a quarter; a car
    workshop: a year)."""


@dataclass(frozen=True, slots=True)
class Business:
    currency: str = ""
    """Currency label shown beside money in tables, charts and reports ('EUR', '$')."""
    servers: int = knob(3, ge=1)
    """Staff serving in parallel during opening hours."""
    max_waiting: int = knob(-1, ge=-1)
    """Waiting room: visits that may wait at once (not counting those in service); a
    visit that finds it full is turned away. -1: no limit."""
    open_hour: float = knob(9.0, ge=0, lt=24)
    """Opening time, hour of the day (9.5 is 09:30). Open every day."""
    close_hour: float = knob(18.0, gt=0, le=24)
    """Closing time, hour of the day; no new visit starts after it, the queue is finished."""
    staff_cost_per_hour: float = knob(25.0, ge=0)
    """Cost of one server for one opening hour."""
    unit_cost_per_visit: float = knob(8.0, ge=0)
    """Materials per served visit at service level 1; scales with the service level."""
    request_time_h: Hours = knob(1 / 6, ge=0)
    """Extra service time per honoured reasonable special request."""
    unreasonable_request_time_h: Hours = knob(1 / 3, ge=0)
    """Extra service time per honoured unreasonable (out-of-scope) request."""
    request_cost: float = knob(3.0, ge=0)
    """Cost of honouring one reasonable special request."""
    unreasonable_request_cost: float = knob(12.0, ge=0)
    """Cost of honouring one unreasonable special request."""
    failure_rate: float = knob(0.04, ge=0, le=1)
    """Probability that a service fails (a bad cut, a repair that does not hold)."""
    fix_cost: float = knob(20.0, ge=0)
    """Cost of fixing a failed service (recovery policy 'fix')."""
    apology_cost: float = knob(2.0, ge=0)
    """Cost of an apology with a token gesture (recovery policy 'apologize')."""
    delight_cost: float = knob(3.0, ge=0)
    """Cost of one small delight gesture within scope."""
    return_loss: float = knob(10.0, ge=0)
    """Goods lost per refunded claim, on top of the refunded price."""


@dataclass(frozen=True, slots=True)
class Market:
    new_customers_per_day: float = knob(8.0, ge=0)
    """New customers per day at the initial reputation (Poisson, opening hours only)."""
    alternatives: float = knob(0.5, ge=0, le=1)
    """Pull of competitors: 0 a monopoly, 1 a homogenised market with many equal rivals."""
    lock_in: float = knob(2.0, ge=0)
    """Switching cost of the market (contracts, habits, no rival nearby): return logit
    added for every firm on it, scaled by (1 - alternatives)^2, so it matters only
    where alternatives are few."""
    norm_reputation: float = knob(6.3, ge=0, le=10)
    """The reputation ordinary service earns in this market (word of mouth, on the 0-10
    satisfaction scale: detractors and those who gave up in the queue speak louder than
    promoters, so it sits below the mean satisfaction of served visits). A firm starts
    at the norm; at the norm, perceived value and the new-customer rate are as given."""
    reputation_sensitivity: float = knob(1.0, ge=0)
    """Elasticity of the new-customer rate to reputation: rate x (1 + s (rep - norm)/10)."""
    image_sensitivity: float = knob(0.5, ge=0)
    """How reputation moves perceived value: image = 1 + s (rep - norm)/10."""
    reputation_memory_visits: float = knob(300.0, ge=1)
    """Reputation is a moving average of satisfaction over about this many visits."""
    acquisition_cost: float = knob(15.0, ge=0)
    """Marketing cost per new (non-referred) customer."""
    referral_delay: DurationDist = knob(exponential(240.0))
    """Delay between a promoter's visit and the referred customer's first visit."""
    discount_rate_per_year: float = knob(0.1, ge=0)
    """Discount rate of customer lifetime value, per year (0.1: a cash flow a year away
    is worth 1/1.1 today)."""
    choice_scale: float = knob(10.0, gt=0)
    """Market of rival firms: scale of the customers' logit choice among firms, money: a
    firm whose expected utility is this much higher is e (2.7) times as likely to be
    chosen. Small: customers pick the best firm almost surely; large: almost at random."""
    switching_cost: float = knob(10.0, ge=0)
    """Market of rival firms: inertia toward the firm a customer used last, money added to
    that firm's utility (habit, a stored card, a known face); the same for every firm."""
    satisfaction_value: float = knob(5.0, ge=0)
    """Market of rival firms: money of utility per point of remembered satisfaction with
    a firm above behaviour.baseline_satisfaction (a firm never tried counts at the
    baseline)."""
    search_limit: int = knob(2, ge=1)
    """Market of rival firms: firms a customer tries on one visit occasion at most. A
    customer turned away (no slot within its waitlist patience, a full waiting room) or
    balking tries the next-best firm the same day while tries remain (spillover)."""
    outside_option: bool = False
    """Market of rival firms: if true, not buying at all is one of the options of every
    visit occasion's logit, with utility outside_surplus; if false (the single-firm
    model), not buying happens only as priced out, balking, abandoning or churning."""
    outside_surplus: float = knob(0.0, ge=-math.inf)
    """Market of rival firms: utility of the outside option, money (what doing without,
    or a rival outside the simulated market, is worth to a customer); read only when
    outside_option is true."""
    imitation_rate: float = knob(0.0, ge=0, le=1)
    """Market of rival firms: at each imitation review, the probability that a firm whose
    profit over the review period trails the best rival's decides to copy that rival's
    knobs (those of imitation_groups; never its staff: servers stay the firm's own). 0:
    no imitation."""
    imitation_groups: tuple[str, ...] = ("all",)
    """Market of rival firms: the knob groups an imitating firm copies from the leader,
    the rest of its strategy staying its own: ["all"] (the whole strategy), or a list of
    "prices and tiers" (the tier list with its prices and the assignment), "requests",
    "refunds", "screening", "service level", "delight", "recovery", "admission and
    capacity" (the admission rule; staff is never copied), "scarcity pricing and
    exclusivity", "adaptation" (the groups of simrun explain)."""
    imitation_period_days: int = knob(30, ge=1)
    """Market of rival firms: days between imitation reviews (profit compared over them)."""
    imitation_lag_days: int = knob(14, ge=0)
    """Market of rival firms: days from the decision to copy until the copy is in place."""
    imitation_cost: float = knob(0.0, ge=0)
    """Market of rival firms: one-off cost of putting a copied strategy in place (training,
    new signs), booked on the day it takes effect (metric imitation_cost)."""


@dataclass(frozen=True, slots=True)
class Segment:
    name: str = knob()
    """Segment name, used in by-segment tier assignment and per-segment results."""
    share: float = knob(ge=0, le=1)
    """Share of new customers from this segment; shares sum to 1."""
    wtp: Dist = knob()
    """Willingness to pay per visit for the standard service (tier value 1)."""
    value_of_time_per_h: Dist = knob(constant(10.0))
    """What an hour of waiting costs this customer, money per hour."""
    service_time: DurationDist = knob(gamma(0.75, 0.5))
    """Service time per visit at service level 1 (drawn each visit)."""
    patience: DurationDist = knob(exponential(1.0))
    """Time a customer waits in the queue before abandoning (drawn each visit)."""
    wait_tolerance: DurationDist = knob(constant(0.25))
    """Wait the customer expects at first; adapts to the waits it meets."""
    visit_interval: DurationDist = knob(gamma(840.0, 0.4))
    """Time from one visit to the customer's next one, when it returns."""
    request_rate: Dist = knob(constant(0.3))
    """Mean number of special requests per visit (Poisson)."""
    unreasonable_share: Dist = knob(constant(0.15), ge=0, le=1)
    """Share of the requests that are unreasonable (out of scope), before entitlement."""
    abuse_propensity: Dist = knob(constant(0.02), ge=0, le=1)
    """Probability per visit of an undeserved refund claim, before entitlement."""
    referral_propensity: Dist = knob(constant(0.3), ge=0, le=1)
    """Probability that a promoter visit brings a new referred customer."""
    loyalty: Dist = knob(constant(0.0), ge=-math.inf)
    """Baseline loyalty, added to the return logit."""
    waitlist_patience_days: float = knob(3.0, ge=0)
    """How many days ahead a customer accepts a waitlist slot."""
    expected_service_level: float = knob(1.0, gt=0)
    """Service level the customer expects at first; adapts to what it gets."""


@dataclass(frozen=True, slots=True)
class Behaviour:
    baseline_satisfaction: float = knob(7.0, ge=0, le=10)
    """Satisfaction of a visit that went exactly as expected, at zero surplus."""
    value_weight: float = knob(3.0, ge=0)
    """Points per unit of surplus share (surplus / perceived value), product part."""
    wait_weight_per_h: float = knob(2.0, ge=0)
    """Points lost per hour of waiting beyond the customer's tolerance."""
    service_level_weight: float = knob(4.0, ge=0)
    """Points per unit of service level above the customer's expectation."""
    request_honoured_weight: float = knob(0.3, ge=0)
    """Points per honoured special request."""
    reasonable_refused_weight: float = knob(1.0, ge=0)
    """Points lost per refused reasonable request."""
    unreasonable_refused_weight: float = knob(0.3, ge=0)
    """Points lost per refused unreasonable request (hurts less)."""
    failure_weight: float = knob(3.0, ge=0)
    """Points lost when the service fails."""
    apology_weight: float = knob(1.0, ge=0)
    """Points restored by an apology."""
    fix_weight: float = knob(3.5, ge=0)
    """Points restored by a fix; above failure_weight gives the recovery paradox."""
    delight_weight: float = knob(1.0, ge=0)
    """Points added by a delight gesture that comes as a surprise; a customer who has come
    to expect delight (expectation_adaptation) is pleased by it only in proportion to
    how unexpected it still is."""
    refund_refused_weight: float = knob(2.0, ge=0)
    """Points lost when a genuine refund claim is refused."""
    abuse_refused_weight: float = knob(0.5, ge=0)
    """Points lost when an undeserved claim is refused (it annoys a little)."""
    genuine_claim_probability: float = knob(0.5, ge=0, le=1)
    """Probability that a failure left unfixed leads to a genuine refund claim."""
    expectation_adaptation: float = knob(0.3, ge=0, le=1)
    """Share of the gap between expectation and experience closed after each visit."""
    entitlement_step: float = knob(0.25, ge=0)
    """Entitlement gained per honoured unreasonable request or refunded abuse."""
    promoter_threshold: float = knob(9.0, ge=0, le=10)
    """Satisfaction at or above which a customer is a promoter."""
    detractor_threshold: float = knob(6.0, ge=0, le=10)
    """Satisfaction at or below which a customer is a detractor."""
    detractor_voice: float = knob(2.0, ge=0)
    """Weight of a detractor's word in reputation, against 1 for a promoter."""
    passive_voice: float = knob(0.5, ge=0)
    """Weight of a passive customer's word in reputation."""
    return_intercept: float = knob(1.0)
    """Return logit of a customer at satisfaction 7 with no loyalty and no alternatives."""
    return_satisfaction_weight: float = knob(0.6, ge=0)
    """Return logit per satisfaction point."""
    return_top_weight: float = knob(0.8, ge=0)
    """Extra return logit per point above 8: the totally satisfied return far more."""
    loyalty_weight: float = knob(1.0, ge=0)
    """Return logit per unit of the customer's baseline loyalty."""
    alternatives_weight: float = knob(2.0, ge=0)
    """Return logit lost at market.alternatives = 1."""
    recovery_restores_loyalty: bool = False
    """If true, a recovered failure counts fully for the return decision (no paradox cap)."""
    balk_counts_own_service: bool = False
    """If true, a customer deciding whether to join the queue counts the time of its own
    service as well as the wait, as in Naor's model; by default only the wait counts
    (willingness to pay is for the service, its duration included)."""


@dataclass(frozen=True, slots=True)
class Tier:
    name: str = knob()
    """Tier name (basic, premium, ...)."""
    price: float = knob(ge=0)
    """Price per visit."""
    value: float = knob(1.0, gt=0)
    """Perceived value multiplier: the customer values the tier at wtp x value x image."""
    priority: int = knob(0, ge=0)
    """Queue priority; higher is served first (non-preemptive)."""
    service_level: float = knob(1.0, gt=0)
    """Service time and material multiplier; also what customers experience as care."""
    requests: Policy = knob(HonourReasonable(), role="requests")
    """Special requests: 'all' honoured, 'reasonable' screened, 'none' refused."""
    refunds: Policy = knob(RefundVerified(), role="refunds")
    """Refund claims: 'always' paid, 'verified' screened for abuse, 'never' paid."""
    delight_chance: float = knob(0.0, ge=0, le=1)
    """Probability of a small delight gesture within scope per served visit."""
    min_spend: float = knob(0.0, ge=0)
    """Past spend needed for this tier under by_spend assignment."""


@dataclass(frozen=True, slots=True)
class Strategy:
    preset: str = ""
    """The preset this strategy starts from ('' if built from scratch)."""
    label: str = ""
    """How tables, charts and reports name the strategy ('' : the preset's label, else
    the run's name)."""
    tiers: tuple[Tier, ...] = ()
    """The offer: one or more tiers."""
    assignment: Policy = knob(SelfSelect(), role="assignment")
    """How a customer gets a tier: self_select, by_segment or by_spend."""
    admission: Policy = knob(Everyone(), role="admission")
    """Who is admitted when: everyone, or daily_slots with a waitlist."""
    servers: int = knob(0, ge=0)
    """Staff this strategy puts on duty (a scarce firm keeps few); 0: business.servers."""
    recovery: Policy = knob(Fix(), role="recovery")
    """After a failure: 'none', 'apologize' or 'fix'."""
    screening_accuracy: float = knob(0.8, ge=0, le=1)
    """Probability that screening judges a request or refund claim right."""
    exclusivity_boost: float = knob(0.0, ge=0)
    """Maximum rise of perceived value from visible scarcity (full days, waitlists)."""
    scarcity_pricing: float = knob(0.0, ge=0)
    """Maximum rise of every price with visible scarcity: a booked-out firm charges up to
    (1 + scarcity_pricing) times its list prices (the power of whoever is scarce)."""
    adaptation: Policy = knob(NoAdaptation(), role="adaptation")
    """How the strategy adapts over time: none, or satisfaction_target (partner)."""


@dataclass(frozen=True, slots=True)
class Scenario:
    run: Run
    business: Business
    market: Market
    segments: tuple[Segment, ...]
    behaviour: Behaviour
    strategy: Strategy
    source: str = field(default="", compare=False)
    """The file it was loaded from (not part of the scenario's identity)."""
    warmup_auto: bool = False
    """``run.warmup_days = "auto"``: the warm-up is still to be found by a pilot
    (:mod:`sim.experiment.warmup`); until then ``run.warmup_days`` is 0."""

    @property
    def name(self) -> str:
        return self.run.name

    @property
    def open_hours_per_day(self) -> float:
        return self.business.close_hour - self.business.open_hour

    @property
    def label(self) -> str:
        """How people see the strategy: its label, else the run's name."""
        return self.strategy.label or self.run.name

    @property
    def servers(self) -> int:
        """Staff on duty: the strategy's own staffing, else the business's."""
        return self.strategy.servers or self.business.servers


