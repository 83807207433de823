"""Directional effects of MODEL.md ("Checks the model must pass"), on paired seeds.

Both arms of a comparison run the same replications of the same seed, so by common
random numbers each replication's difference removes most of the market's noise. An
effect holds when the 95% Student-t interval of the paired differences (or of the
difference of two paired effects) excludes zero. Each scenario below was sized so the
effect sits five or more half-widths from zero (measured when the tests were written),
so a failure is a change in the model, not bad luck.
"""

from __future__ import annotations

from helpers import clearly_positive, paired_difference, runs, tiny_scenario

from sim.metrics import RunResult, estimate

REPLICATIONS = range(5)
SHORT = {"run.days": 40, "run.warmup_days": 5}


def effect(metric: str, treated: list[RunResult], control: list[RunResult]) -> list[float]:
    """Per-replication difference treated - control of one metric."""
    return [t.metrics[metric] - c.metrics[metric] for t, c in zip(treated, control, strict=True)]


def test_abuse_hurts_always_refunds_more_than_verified_refunds() -> None:
    def profit_drop(refunds: str) -> list[float]:
        arm = {**SHORT, "strategy.tiers[0].refunds": refunds}
        honest = runs(tiny_scenario("god", {**arm, "segments[*].abuse_propensity": 0.02}),
                      REPLICATIONS)
        abusive = runs(tiny_scenario("god", {**arm, "segments[*].abuse_propensity": 0.3}),
                       REPLICATIONS)
        return effect("profit", honest, abusive)

    always, verified = profit_drop("always"), profit_drop("verified")
    extra_drop = estimate([a - v for a, v in zip(always, verified, strict=True)])
    assert clearly_positive(estimate(always))
    assert clearly_positive(extra_drop)


def test_market_lock_in_raises_every_strategys_retention_in_a_monopoly_only() -> None:
    """Lock-in belongs to the market: the same bonus for every strategy on it."""
    def lock_in_effect(strategy: str, alternatives: float) -> list[float]:
        market = {"run.days": 100, "run.warmup_days": 10, "run.retention_period_days": 30,
                  "market.alternatives": alternatives}
        locked = runs(tiny_scenario(strategy, {**market, "market.lock_in": 2.0}), REPLICATIONS)
        free = runs(tiny_scenario(strategy, {**market, "market.lock_in": 0.0}), REPLICATIONS)
        return effect("customer_retention", locked, free)

    for strategy in ("god", "scarcity"):
        monopoly = estimate(lock_in_effect(strategy, 0.05))
        crowded = estimate(lock_in_effect(strategy, 0.95))
        assert clearly_positive(monopoly)
        assert monopoly.mean > 0.05
        # lock-in scales with (1 - alternatives)^2: 400 times weaker at 0.95 than at 0.05
        assert abs(crowded.mean) < monopoly.mean / 10


def test_honouring_every_request_raises_satisfaction_and_request_cost() -> None:
    # Ample staff and patient customers: extra service time for requests does not turn
    # into abandonments (scored 0), so the comparison isolates the per-visit effect.
    roomy = {**SHORT, "business.servers": 6, "segments[*].patience": "3 h",
             "segments[*].referral_propensity": 0.0}
    honour_all = runs(tiny_scenario("god", {**roomy, "strategy.tiers[0].requests": "all"}),
                      REPLICATIONS)
    refuse_all = runs(tiny_scenario("god", {**roomy, "strategy.tiers[0].requests": "none"}),
                      REPLICATIONS)
    # The cost is the request cost; cost per visit may fall, as fixed staff cost is
    # spread over the extra visits that satisfied customers come back for.
    for metric in ("mean_satisfaction", "request_cost"):
        assert clearly_positive(paired_difference(honour_all, refuse_all, metric)), metric


# Two tiers of equal value and service; priority costs 10 more. Only the time saved
# in the queue can make a customer pay for it, and every served visit pays 50 or 60,
# so revenue per served visit measures the share who bought priority exactly.
BASIC_PRICE, PRIORITY_PREMIUM = 50.0, 10.0
PRIORITY_FOR_A_PREMIUM = {"tiers": [
    {"name": "standard", "price": BASIC_PRICE, "priority": 0, "requests": "none",
     "refunds": "never"},
    {"name": "express", "price": BASIC_PRICE + PRIORITY_PREMIUM, "priority": 1,
     "requests": "none", "refunds": "never"}]}
CONGESTED = {**SHORT, "business.servers": 2, "market.new_customers_per_day": 20}


def priority_share(run: RunResult) -> float:
    per_visit = run.metrics["gross_revenue"] / run.metrics["served"]
    return (per_visit - BASIC_PRICE) / PRIORITY_PREMIUM


def test_a_higher_value_of_time_makes_customers_buy_priority_and_balk_at_long_queues() -> None:
    def market(value_of_time: float) -> list[RunResult]:
        settings = {**CONGESTED, "segments[*].value_of_time_per_h": value_of_time}
        return runs(tiny_scenario(PRIORITY_FOR_A_PREMIUM, settings), REPLICATIONS)

    patient, hurried = market(2.0), market(60.0)
    bought_priority = estimate([priority_share(h) - priority_share(p)
                                for h, p in zip(hurried, patient, strict=True)])
    assert clearly_positive(bought_priority)
    balked = paired_difference(hurried, patient, "balked")
    assert clearly_positive(balked)
