"""Every metric means what its name says: tiny scripted cases whose answers are worked
out by hand in the comments, then the same definitions recomputed from the visit log on
random scenarios (an independent implementation of docs/model.md, "Metrics").

The hand cases share one market: open around the clock (so hours need no calendar), one
segment that values a visit at 100 and pays 50, one-hour services, nothing random left
but what each case scripts: arrivals at given hours, and a return decision that is
certain (logit +-30 or beyond: probabilities within 1e-13 of 0 or 1, while the uniforms
of the engine lie in [1.2e-10, 1 - 1.2e-10]).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import pytest
from helpers import Recorder, scripted_run, tiny_scenario
from hypothesis import given
from market_helpers import scripted_market_replication, scripted_market_run
from test_conservation import conservation, same_scenarios, valid_scenarios

from sim.metrics import (
    DAILY_COLUMNS,
    METRICS,
    SEGMENT_COLUMNS,
    TIER_COLUMNS,
    MarketRunResult,
    RunResult,
    zero_by_rule,
)
from sim.model.engine import run_replication
from sim.model.events import ABANDONED, BALKED, PRICED_OUT, SERVED, TURNED_AWAY
from sim.model.rng import NEW, V_INTERVAL, V_REFERRAL_DELAY
from sim.model.tally import Tally, Visit, WaitHistogram
from sim.scenario import Scenario, scenario_from_raw
from sim.scenario.loader import set_path
from sim.scenario.market import MarketScenario

WEEK = 168.0


def hand_market(**settings: Any) -> Scenario:
    """The hand cases' market; ``settings`` are dotted paths (``business.servers=1``)."""
    raw: dict[str, Any] = {
        "run": {"days": 21, "warmup_days": 7, "retention_period_days": 7},
        "business": {"servers": 3, "open_hour": 0, "close_hour": 24, "staff_cost_per_hour": 0.0,
                     "unit_cost_per_visit": 8.0, "failure_rate": 0.0},
        "market": {"new_customers_per_day": 0.0, "alternatives": 0.0, "lock_in": 0.0,
                   "acquisition_cost": 15.0, "reputation_sensitivity": 0.0,
                   "image_sensitivity": 0.0, "norm_reputation": 8.5},
        "segments": [{"name": "all", "share": 1.0, "wtp": 100.0, "value_of_time_per_h": 0.0,
                      "service_time": "1 h", "patience": "30 min", "wait_tolerance": 0.0,
                      "visit_interval": "1 w", "request_rate": 0.0, "abuse_propensity": 0.0,
                      "referral_propensity": 0.0, "loyalty": 0.0}],
        # satisfaction of a plain visit: 7 + 3 x (100 - 50) / 100 = 8.5; the return logit
        # is +30 at 8.5 and -140 after an abandoned visit (satisfaction 0)
        "behaviour": {"return_intercept": 0.0, "return_satisfaction_weight": 20.0,
                      "return_top_weight": 0.0, "loyalty_weight": 0.0},
        "strategy": {"tiers": [{"name": "only", "price": 50.0, "requests": "none",
                                "refunds": "never", "delight_chance": 0.0}],
                     "recovery": "none"},
    }
    for path, value in settings.items():
        assert set_path(raw, path.replace("__", "."), value) is None, path
    return scenario_from_raw(raw, source="<hand>")


# --- customers served, retention, repeat rate, churn ---------------------------------

def three_regulars_and_a_blocker() -> tuple[dict[str, float], Recorder]:
    """A, B and C first come at hours 1, 3 and 5 (warm-up) and every week after, each
    visit an hour; E, a newcomer, arrives at 340.9 and holds the one server till 341.9,
    so B (due at 341) waits past its half-hour patience, gives up and leaves.

    Visits end (and customers decide) an hour after they start: A at 2, 171, 340;
    B at 4, 173, then gives up at 341.5; C at 6, 175, 344; E at 341.9. Retention periods:
    [168, 336) and [336, 504)."""
    recorder = Recorder()
    run = scripted_run(hand_market(business__servers=1), [1.0, 3.0, 5.0, 340.9], recorder)
    return run.metrics, recorder


def test_customers_served_counts_everyone_served_in_the_window_whenever_acquired() -> None:
    m, _ = three_regulars_and_a_blocker()
    # A, B, C (acquired in the warm-up) and E: 4 distinct customers served after hour 168
    assert m["customers_served"] == 4
    # A 2, B 1 (172), C 2, E 1 served visits in the window
    assert m["served"] == 6
    assert m["revenue_per_customer"] == pytest.approx(6 * 50 / 4)


def test_customer_retention_is_one_minus_churned_over_customers_alive_at_the_start() -> None:
    m, _ = three_regulars_and_a_blocker()
    # period 0 starts with A, B, C and loses none: 1; period 1 starts with A, B, C and
    # loses B (E, won during it, is not in its denominator): 1 - 1/3
    assert m["customer_retention"] == pytest.approx((1 + 2 / 3) / 2)
    assert m["customers_churned"] == 1


def test_visits_simulated_counts_every_visit_begun_warm_up_included() -> None:
    """The three regulars and the blocker: A, B and C begin 3 visits each (B's third is
    the one it gives up), E one: 10. B is counted when it leaves, A, C and E at the
    horizon."""
    _, recorder = three_regulars_and_a_blocker()
    assert len(recorder.events) == 10  # every visit has ended by the horizon
    run = scripted_run(hand_market(business__servers=1), [1.0, 3.0, 5.0, 340.9])
    assert run.visits_simulated == 10


def test_the_repeat_rate_is_the_share_of_a_periods_customers_buying_in_the_next() -> None:
    m, _ = three_regulars_and_a_blocker()
    # period 0 buyers: A, B, C; of them A and C buy in period 1
    assert m["repeat_rate"] == pytest.approx(2 / 3)


def test_nobody_churns_so_retention_is_complete_and_the_survival_curve_flat() -> None:
    recorder = Recorder()
    run = scripted_run(hand_market(), [1.0, 3.0, 5.0, 200.0], recorder)
    # three customers from day 0, a fourth from day 8 (200 h)
    assert tuple(run.daily["customers_alive"]) == (3.0,) * 8 + (4.0,) * 13
    assert run.metrics["customer_retention"] == 1.0
    assert run.metrics["customers_churned"] == 0
    assert set(run.distributions["survival_by_week"]) == {1.0}
    assert all(e.returns for e in recorder.events)


def test_a_prospect_turned_away_before_buying_is_a_lost_prospect_not_a_churned_customer() -> None:
    """One slot a day (the whole day: the shop never closes), no waitlist. A (warm-up)
    comes back at 170 and takes day 7's slot; P1 arrives at 175 the same day: turned
    away before ever buying, so lost. P2 arrives at 200 (day 8) and buys: won.
    Marketing paid 15 for each of P1 and P2."""
    scenario = hand_market(strategy__admission={"kind": "daily_slots", "slots_per_day": 1,
                                                "waitlist": False}, run__days=14)
    run = scripted_run(scenario, [1.0, 175.0, 200.0])
    m, segment = run.metrics, run.segments["all"]
    assert (m["turned_away"], m["lost_prospects"], m["customers_churned"]) == (1, 1, 0)
    assert (m["prospects_new"], m["customers_won"]) == (2, 1)
    assert m["conversion_rate"] == 0.5
    assert m["cac"] == 2 * 15 / 1
    assert (segment["lost_prospects"], segment["churned"], segment["customers_won"]) == (1, 0, 1)
    assert segment["prospects"] == 2


# --- a market of two firms: each firm's retention --------------------------------------

def morning_and_afternoon() -> MarketRunResult:
    """The hand market as two firms with a server each: A open 0-12 h, B 12-24 h, so a
    visit occasion has one open firm and nothing is left to chance. 28 days, 7 of
    warm-up, 7-day periods: [168, 336), [336, 504), [504, 672). Weekly regulars come
    back 168 h after each visit ends (an hour later in the day each week):

    - Y at 1 (A); again at 170, 339, 508, all at A.
    - Z at 5 (A), 174 (A); at 343 it waits behind E, gives up at 343.5 and leaves the
      market: A's customer churns.
    - X at 10.5 (A), 179.5 (A); at 348.5 A is closed: served at B till 349.5, switching
      A -> B; at 517.5 it waits behind F, gives up at 518 and leaves: B's customer churns.
    - V at 11.6 (A); at 180.6 served at B till 181.6, switching A -> B; again at 349.6
      and 518.6 at B.
    - W at 13 (B); again at 182, 351, 520 at B.
    - E, new at 342.9, served at A till 343.9 and at 511.9; F, new at 517.4, served at B.
    """
    return scripted_market_run(MORNING_AND_AFTERNOON, MORNING_AND_AFTERNOON_ARRIVALS)


MORNING_AND_AFTERNOON = MarketScenario(
    ("A", "B"), (hand_market(run__days=28, business__servers=1, business__close_hour=12),
                 hand_market(run__days=28, business__servers=1, business__open_hour=12)))
MORNING_AND_AFTERNOON_ARRIVALS = (1.0, 5.0, 10.5, 11.6, 13.0, 342.9, 517.4)


def test_a_firms_retention_on_a_market_counts_its_own_customers_kept() -> None:
    """A's customers (alive, last served at A) at 168: Y, Z, X, V; it loses V to B in
    period 0: 3/4. At 336: Y, Z, X; it loses Z (churn) and X (to B): 1/3. At 504: Y and
    E, both kept: 1. B's at 168: W; at 336: W, V (X, won over in period 1, is not in
    its denominator); at 504: W, V, X, of whom X churns: 2/3. (Counted as customers
    kept by the market, A would keep 1, 3/4 and 3/4.)"""
    r = morning_and_afternoon()
    a, b = (firm.distributions["retention_by_period"] for firm in r.firms)
    assert a == pytest.approx((3 / 4, 1 / 3, 1.0), rel=1e-12)
    assert b == pytest.approx((1.0, 1.0, 2 / 3), rel=1e-12)
    assert r.firms[0].metrics["customer_retention"] == pytest.approx(
        (3 / 4 + 1 / 3 + 1) / 3, rel=1e-12)
    assert r.firms[1].metrics["customer_retention"] == pytest.approx((1 + 1 + 2 / 3) / 3,
                                                                      rel=1e-12)
    assert r.firms[0].segments["all"]["customer_retention"] == pytest.approx(
        (3 / 4 + 1 / 3 + 1) / 3, rel=1e-12)


def test_a_firms_customer_count_follows_its_customers_won_lost_and_churned() -> None:
    """The count a period's retention starts from (:func:`morning_and_afternoon`): at the
    horizon A's customers are Y and E (Z churned, X and V went to B), B's are W, V and F
    (X churned as B's customer)."""
    replication = scripted_market_replication(MORNING_AND_AFTERNOON,
                                              MORNING_AND_AFTERNOON_ARRIVALS)
    replication.run()
    assert [firm.customers_by_segment for firm in replication.firms] == [[2], [3]]


def test_switching_is_not_churn_each_leaving_customer_is_churned_by_its_last_firm() -> None:
    """Z leaves as A's customer, X as B's (it had bought at A before switching): each
    firm books one churned customer. Switching, served visits in the window by (firm
    before, firm now): A -> A Y 170, 339, 508, Z 174, X 179.5, E 511.9; A -> B V 180.6,
    X 348.5; B -> B W 182, 351, 520, V 349.6, 518.6; first purchases E at A, F at B."""
    r = morning_and_afternoon()
    assert [f.metrics["customers_churned"] for f in r.firms] == [1, 1]
    assert [f.segments["all"]["churned"] for f in r.firms] == [1, 1]
    assert r.switching == ((6, 2), (0, 5), (1, 1))
    assert [f.metrics["abandoned"] for f in r.firms] == [1, 1]


def test_a_customer_lost_and_won_back_within_a_period_counts_once_as_lost() -> None:
    """The tally's own rule (days 0-27, warm-up 7, 7-day periods): a customer of the
    firm since hour 100 switches away at 200 (period 0), is won back at 250 and
    switches away again at 300: period 0 loses it once. Another, since 10, churns at
    400 (period 1); a third, won at 350, churns at 450: won in period 1, not its loss.
    Nor is a fourth's, won at 336 exactly, the instant period 1 starts: the period's
    count is taken at midnight, before a visit ending then (its wake was queued
    earlier), so it was not among the customers the period started with."""
    t = Tally(1, 1, 28, 7, 7, 0.0)
    t.period_starts(0, [2])
    t.switched_away(0, 100.0, 200.0)
    t.switched_away(0, 250.0, 300.0)
    t.period_starts(1, [2])
    t.churned(0, 10.0, False, 400.0, 10.0)
    t.churned(0, 350.0, False, 450.0, 350.0)
    t.churned(0, 336.0, False, 455.0, 336.0)
    t.churned(0, 20.0, False, 460.0, math.inf)  # no longer its customer: not its churn
    assert t.period_lost == {0: [1], 1: [1]}
    assert t.segments[0][SEGMENT_COLUMNS.index("churned")] == 3


def test_every_copy_of_a_rivals_strategy_is_paid_and_only_measured_ones_are_booked() -> None:
    """Three copies at 200: one in the warm-up (today's profit only), two measured (the
    imitation cost and the cash: 400)."""
    t = Tally(1, 1, 28, 7, 7, 0.0)
    t.imitation(200.0, measured=False)
    t.imitation(200.0, measured=True)
    t.imitation(200.0, measured=True)
    assert (t.imitation_cost, t.cash) == (400.0, -400.0)


# --- lifetime value --------------------------------------------------------------------

def test_clv_discounts_each_customers_cash_by_age_over_those_observed_that_long() -> None:
    """No warm-up, 28 days. X arrives at hour 1 and comes weekly: purchases end at
    2 + 169 k (k = 0..3; the fifth, at 678, is past 672). Y arrives at 481 (day 20) and
    buys at 482 and 651 (day 27). Each visit leaves 50 - 8 = 42. By age in days:
    age 0: X and Y (both observed: 2 customers); age 7: X's and Y's second visits (Y,
    won on day 20, is observed up to age 7: 2 customers); ages 14 and 21: X alone
    (1 customer observed). Discounting at 10% a year over the hours since the first
    purchase."""
    run = scripted_run(hand_market(run__days=28, run__warmup_days=0), [1.0, 481.0])

    def d(hours: float) -> float:
        return 1.1 ** (-hours / 8760)

    clv = 42 * ((1 + 1) / 2 + (d(169) + d(169)) / 2 + d(338) / 1 + d(507) / 1)
    assert run.metrics["clv"] == pytest.approx(clv, rel=1e-12)
    assert run.metrics["cac"] == 15.0
    assert run.metrics["clv_to_cac"] == pytest.approx(clv / 15)
    assert run.segments["all"]["clv"] == pytest.approx(clv, rel=1e-12)


# --- satisfaction and NPS --------------------------------------------------------------

def weekly_regular(expected_service_level: float, adaptation: float
                   ) -> tuple[RunResult, Recorder]:
    """One customer from hour 1, back every week of 28 days (no warm-up), served at
    service level 1: each visit scores 7 + 8 x (1 - the level it expects) (value weight
    0), and the gap closes by ``adaptation`` after each visit."""
    recorder = Recorder()
    run = scripted_run(hand_market(**{
        "run__days": 28, "run__warmup_days": 0, "behaviour__value_weight": 0.0,
        "behaviour__service_level_weight": 8.0,
        "behaviour__expectation_adaptation": adaptation,
        "behaviour__return_intercept": 50.0, "behaviour__return_satisfaction_weight": 0.0,
        "segments[0].expected_service_level": expected_service_level}), [1.0], recorder)
    return run, recorder


def test_nps_per_customer_takes_each_customers_latest_score_per_visit_takes_every_visit() -> None:
    """A customer who expected service level 1.5 and gets 1, with half of each gap
    closed after every visit: gaps -0.5, -0.25, -0.125, -0.0625; at 8 points per unit
    its visits score 7 - 4, 7 - 2, 7 - 1, 7 - 0.5 = 3, 5, 6, 6.5 (value weight 0).
    Three detractors (<= 6) and a passive: per visit -75; per customer (latest: 6.5) 0."""
    run, recorder = weekly_regular(expected_service_level=1.5, adaptation=0.5)
    assert [e.satisfaction for e in recorder.events] == pytest.approx([3, 5, 6, 6.5])
    assert run.metrics["nps_per_visit"] == pytest.approx(-75)
    assert run.metrics["nps"] == 0
    assert run.metrics["mean_satisfaction"] == pytest.approx((3 + 5 + 6 + 6.5) / 4)


def test_a_latest_score_of_zero_counts_in_nps_per_customer() -> None:
    """The same customer expecting service level 2 and getting 1, with no adaptation:
    7 - 8 = -1, scored 0 (the scale's floor) on every visit. Its latest score, 0, is a
    detractor's: NPS per customer -100."""
    run, recorder = weekly_regular(expected_service_level=2.0, adaptation=0.0)
    assert [e.satisfaction for e in recorder.events] == [0.0] * 4
    assert run.metrics["nps"] == -100


def test_delight_pleases_only_as_far_as_it_still_surprises() -> None:
    """Delight on every visit: the expected delight closes half the gap after each, so
    the gesture adds 1, 1/2, 1/4, 1/8 points (delight weight 1) on top of 8.5."""
    recorder = Recorder()
    scripted_run(hand_market(run__days=28, run__warmup_days=0,
                             behaviour__expectation_adaptation=0.5,
                             **{"strategy.tiers[0].delight_chance": 1.0}), [1.0], recorder)
    assert [e.satisfaction for e in recorder.events] == pytest.approx(
        [9.5, 9.0, 8.75, 8.625])


@pytest.mark.parametrize(("settings", "expected"), [
    ({}, 8.5),  # 7 + 3 x (100 - 50) / 100
    ({"strategy.tiers[0].value": 2.0}, 9.25),  # worth 200 to the customer: 7 + 3 x 150 / 200
    ({"strategy.tiers[0].price": 0.0, "segments[0].wtp": 0.0}, 7.0),  # nothing perceived
])
def test_a_visit_pleases_by_the_share_of_its_perceived_value_left_after_the_price(
        settings: dict[str, Any], expected: float) -> None:
    recorder = Recorder()
    scripted_run(hand_market(run__days=1, run__warmup_days=0, **settings), [1.0], recorder)
    assert [(e.outcome, e.satisfaction) for e in recorder.events] == [(SERVED, expected)]


@pytest.mark.parametrize(("baseline", "nps"), [(9.0, 100.0), (8.999, 0.0), (6.0, -100.0),
                                             (6.001, 0.0)])
def test_a_score_on_a_threshold_counts_as_the_promoters_or_the_detractors(
        baseline: float, nps: float) -> None:
    """Promoters score 9 or more, detractors 6 or less (docs/model.md, NPS)."""
    scenario = hand_market(run__days=1, run__warmup_days=0, **{
        "behaviour.baseline_satisfaction": baseline, "behaviour.value_weight": 0.0})
    run = scripted_run(scenario, [1.0])
    assert (run.metrics["nps_per_visit"], run.metrics["nps"]) == (nps, nps)
    assert run.segments["all"]["promoters"] == (nps > 0)
    assert run.segments["all"]["detractors"] == (nps < 0)


# --- waits, abandonment, the waiting room ---------------------------------------------

def test_waits_and_abandonment_of_a_small_queue_with_a_waiting_room() -> None:
    """One server, one waiting place, patience half an hour. Arrivals at 0.0 (served at
    once), 0.1 (waits, gives up at 0.6), 0.2 (the waiting place is taken: turned away),
    0.7 (waits for the server till 1.0: served after 0.3)."""
    scenario = hand_market(run__days=1, run__warmup_days=0, business__servers=1,
                           business__max_waiting=1)
    m = scripted_run(scenario, [0.0, 0.1, 0.2, 0.7]).metrics
    assert (m["arrivals"], m["served"], m["abandoned"], m["turned_away"]) == (4, 2, 1, 1)
    assert m["abandonment_rate"] == pytest.approx(1 / 3)  # of the 3 who joined the queue
    assert m["abandonment_per_arrival"] == pytest.approx(1 / 4)
    assert m["mean_wait_h"] == pytest.approx((0 + 0.3) / 2)
    assert m["mean_wait_joined_h"] == pytest.approx((0 + 0.5 + 0.3) / 3)
    assert m["wait_probability"] == pytest.approx(1 / 2)
    # 8.5 at once; 8.5 - 2 points an hour x 0.3 h beyond a zero tolerance; the abandoned
    # visit's 0 is not in it
    assert m["mean_satisfaction"] == pytest.approx((8.5 + 7.9) / 2)


def test_visits_that_give_up_count_on_their_day_with_the_time_they_waited() -> None:
    """One server, half an hour's patience. Day 0: 0.0 is served, 0.1 and 0.2 give up at
    0.6 and 0.7; day 1: 24.0 is served, 24.7 waits till 25.0 and is served, 24.8 gives
    up at 25.3 (the server went to 24.7)."""
    scenario = hand_market(run__days=2, run__warmup_days=0, business__servers=1)
    run = scripted_run(scenario, [0.0, 0.1, 0.2, 24.0, 24.7, 24.8])
    m = run.metrics
    assert tuple(run.daily["abandoned"]) == (2.0, 1.0)
    assert (m["served"], m["abandoned"]) == (3, 3)
    assert run.tiers["only"]["abandoned"] == run.segments["all"]["abandoned"] == 3
    assert m["mean_wait_h"] == pytest.approx(0.3 / 3)
    assert m["mean_wait_joined_h"] == pytest.approx((0.5 + 0.5 + 0.3 + 0.5) / 6)


def test_a_referral_arrives_its_delay_after_the_visit_that_made_a_promoter() -> None:
    """A free visit worth 100 scores 10: a promoter who refers surely (propensity 1).
    Open around the clock, so a two-day delay lands exactly two days later: A, served
    from 1.0 to 2.0, brings its first referral (key (1, 0, 0, 0)) at 50.0; that one's own
    referral would come at 99.0, past the three-day horizon."""
    scenario = hand_market(run__days=3, run__warmup_days=0, **{
        "strategy.tiers[0].price": 0.0, "segments[0].referral_propensity": 1.0,
        "market.referral_delay": "2 d"})
    recorder = Recorder()
    run = scripted_run(scenario, [1.0], recorder)
    assert recorder.prospects == {(0, 0): (1.0, 0), (1, 0, 0, 0): (50.0, 0)}
    assert run.metrics["prospects_referred"] == 1


class DrawRecorder(Recorder):
    """Also keeps the uniforms of every visit, by (customer, visit number)."""

    def __init__(self) -> None:
        super().__init__()
        self.draws: dict[tuple[tuple[int, ...], int], list[float]] = {}

    def visit(self, key: tuple[int, ...], k: int, draws: list[float]) -> None:
        self.draws[key, k] = draws


def test_delays_are_their_distributions_at_the_uniforms_of_the_visit() -> None:
    """As above, with exponential delays of mean 2 days to the referral and to the next
    visit: each is the inverse CDF, -48 ln(1 - u) hours, at the uniform of its slot of
    the visit that ended at 2.0 (open around the clock: no moving into opening hours).
    A uniform off by one step of 2^-32 would move them by at least 48 x 2^-32 h."""
    exponential = {"dist": "exponential", "mean": "2 d"}
    scenario = hand_market(run__days=60, run__warmup_days=0, **{
        "strategy.tiers[0].price": 0.0, "segments[0].referral_propensity": 1.0,
        "market.referral_delay": exponential, "segments[0].visit_interval": exponential})
    recorder = DrawRecorder()
    scripted_run(scenario, [1.0], recorder)
    u = recorder.draws[(NEW, 0), 0]
    referral_h = 2.0 - 48 * math.log1p(-u[V_REFERRAL_DELAY])
    next_visit_h = 2.0 - 48 * math.log1p(-u[V_INTERVAL])
    assert recorder.prospects[1, 0, 0, 0][0] == pytest.approx(referral_h, rel=0, abs=1e-11)
    second = next(e for e in recorder.events if e.key == (NEW, 0) and e.visit == 1)
    assert second.arrived_h == pytest.approx(next_visit_h, rel=0, abs=1e-11)


def test_a_visit_that_gives_up_speaks_as_a_detractor_scoring_zero() -> None:
    """The reputation starts at the norm, 8.5. The visit that gives up at 0.6 pulls it
    towards 0 with a detractor's weight, detractor_voice / reputation_memory_visits =
    2 / 300; the visit served till 1.0 scores 8.5, a passive score, and pulls it back
    towards 8.5 with a passive weight, 0.5 / 300."""
    scenario = hand_market(run__days=1, run__warmup_days=0, business__servers=1)
    run = scripted_run(scenario, [0.0, 0.1])
    assert run.metrics["abandoned"] == 1
    after_abandonment = 8.5 * (1 - 2 / 300)
    expected = after_abandonment + 0.5 / 300 * (8.5 - after_abandonment)
    assert run.daily["reputation"][0] == pytest.approx(expected, rel=1e-12)


def test_visits_turned_away_at_a_full_waiting_room_count_on_their_day() -> None:
    """One server, one waiting place. Day 0: 0.0 is served, 0.1 waits, 0.2 and 0.3 find
    the place taken; day 1: 24.0 is served, 24.1 waits, 24.2 finds the place taken."""
    scenario = hand_market(run__days=2, run__warmup_days=0, business__servers=1,
                           business__max_waiting=1)
    run = scripted_run(scenario, [0.0, 0.1, 0.2, 0.3, 24.0, 24.1, 24.2])
    assert tuple(run.daily["turned_away"]) == (2.0, 1.0)
    assert run.metrics["turned_away"] == 3
    assert run.segments["all"]["turned_away"] == 3


def test_without_a_waiting_room_a_visit_finding_every_server_busy_is_turned_away() -> None:
    """business.max_waiting = 0, one server: 0.0 is served, 0.1 and 0.5 find it busy and
    nowhere to wait; 1.5 finds it free again."""
    scenario = hand_market(run__days=1, run__warmup_days=0, business__servers=1,
                           business__max_waiting=0)
    run = scripted_run(scenario, [0.0, 0.1, 0.5, 1.5])
    assert (run.metrics["served"], run.metrics["turned_away"]) == (2, 2)


@pytest.mark.parametrize(("setting", "arrivals"), [
    ({"business.max_waiting": 1}, [0.0, 0.1, 0.2]),  # 0.2 finds the waiting room full
    ({"strategy.admission": {"kind": "daily_slots", "slots_per_day": 1, "waitlist": False}},
     [0.0, 5.0]),  # 5.0 finds today's one slot taken
    ({"strategy.admission": {"kind": "daily_slots", "slots_per_day": 1, "waitlist": True},
      "segments[0].waitlist_patience_days": 1}, [0.0, 5.0]),  # 5.0 waits for tomorrow
])
def test_a_visit_sent_away_or_waitlisted_makes_the_firm_look_scarce_the_next_day(
        setting: dict[str, Any], arrivals: list[float]) -> None:
    """Visible scarcity is smoothed day by day (0.8 of yesterday's, 0.2 of today's): a
    scarce day 0 shows in day 1's image as 1 + exclusivity_boost x 0.2, then fades."""
    scenario = hand_market(run__days=3, run__warmup_days=0, business__servers=1, **{
        "strategy.exclusivity_boost": 0.5, **setting})
    run = scripted_run(scenario, arrivals)
    assert tuple(run.daily["image"]) == pytest.approx((1.0, 1.1, 1.08))


def test_a_daily_quota_serves_its_slots_at_their_appointments() -> None:
    """Two slots a day, 0-12 and 12-24 (the shop never closes), two days of waitlist
    patience. Day 0: five arrive at 1 to 5. 1 takes the current slot at once; 2 takes
    12:00; 3 and 4 take tomorrow's slots, 5 the day after's first (waitlisted: booked to
    a later day). Each is served at its appointment, for an hour."""
    scenario = hand_market(run__days=4, run__warmup_days=0, **{
        "strategy.admission": {"kind": "daily_slots", "slots_per_day": 2, "waitlist": True},
        "segments[0].waitlist_patience_days": 2})
    recorder = Recorder()
    run = scripted_run(scenario, [1.0, 2.0, 3.0, 4.0, 5.0], recorder)
    assert tuple(run.daily["waitlisted"]) == (3.0, 0.0, 0.0, 0.0)
    assert run.metrics["waitlisted"] == 3
    assert run.metrics["served"] == 5
    assert run.metrics["mean_wait_h"] == 0.0  # an appointment is not a wait in line
    assert sorted((e.key[1], e.ended_h - 1, e.appointment_h) for e in recorder.events) == [
        (0, 1.0, 0.0), (1, 12.0, 10.0), (2, 24.0, 21.0), (3, 36.0, 32.0), (4, 48.0, 43.0)]


def test_an_appointment_later_the_same_day_is_not_waitlisted_on_any_day() -> None:
    """The quota above on day 1: 24.5 takes the current slot at once, 24.6 the 12:00
    one (an appointment 11.4 h later, the same day). Only a booking to a later day is
    waitlisted, on day 1 as on day 0."""
    scenario = hand_market(run__days=3, run__warmup_days=0, **{
        "strategy.admission": {"kind": "daily_slots", "slots_per_day": 2, "waitlist": True},
        "segments[0].waitlist_patience_days": 2})
    recorder = Recorder()
    run = scripted_run(scenario, [24.5, 24.6], recorder)
    assert (run.metrics["waitlisted"], run.metrics["served"]) == (0, 2)
    assert sorted((e.key[1], e.ended_h - 1, e.appointment_h) for e in recorder.events) == [
        (0, 24.5, 0.0), (1, 36.0, pytest.approx(11.4))]


def test_customers_who_balk_count_against_the_tier_they_would_have_bought() -> None:
    """One server busy with 0.0's hour; 0.1 and 0.2 expect an hour's wait, which at 100
    an hour costs more than the 50 the visit is worth to them: they balk."""
    scenario = hand_market(run__days=1, run__warmup_days=0, business__servers=1,
                           **{"segments[0].value_of_time_per_h": 100.0})
    run = scripted_run(scenario, [0.0, 0.1, 0.2])
    assert run.metrics["balked"] == 2
    assert run.tiers["only"]["balked"] == 2
    assert run.segments["all"]["balked"] == 2


def test_the_90th_percentile_wait_is_right_far_beyond_a_day() -> None:
    """One server, ten-hour services, no patience limit, ten customers a thousandth of
    an hour apart: the i-th waits 10 i - 0.001 i hours. Of ten waits the 90th percentile
    is the ninth smallest, 80 - 0.008 h; the histogram is 1% wide there."""
    scenario = hand_market(run__days=5, run__warmup_days=0, business__servers=1,
                           **{"segments[0].service_time": "10 h", "segments[0].patience": 1e9})
    m = scripted_run(scenario, [0.001 * i for i in range(10)]).metrics
    assert m["served"] == 10
    assert 79.99 * 0.99 <= m["p90_wait_h"] <= 79.992 * 1.01
    assert m["wait_probability"] == pytest.approx(0.9)
    assert m["mean_wait_h"] == pytest.approx(sum(10 * i - 0.001 * i for i in range(10)) / 10)


# --- money and the daily series ---------------------------------------------------------

def test_the_wait_histogram_bins_by_the_minute_to_two_hours_then_one_percent_wide() -> None:
    histogram = WaitHistogram()
    assert histogram.edges(0) == (0.0, 1 / 60)
    assert histogram.edges(119) == pytest.approx((119 / 60, 2.0))
    assert histogram.edges(120) == pytest.approx((2.0, 2.02))
    assert histogram.edges(122) == pytest.approx((2.0 * 1.01**2, 2.0 * 1.01**3))
    for wait in (0.0, 0.0, 0.5, 3.0):
        histogram.add(wait)
    # half the waits are zero; a quantile interpolates inside its bin
    assert histogram.quantile(0.5) == 0.0
    assert histogram.quantile(0.75) == pytest.approx(31 / 60)  # the top of 0.5's bin
    low, high = histogram.edges(120 + int(math.log(1.5) / math.log(1.01)))
    assert low <= 3.0 < high
    assert histogram.quantile(1.0) == pytest.approx(high)
    # the chart's shape: zero waits in the first five-minute bin, 0.5 h in the seventh
    # (30 to 35 minutes), 3 h in the open bin for two hours and more
    assert histogram.five_minute_bins() == tuple([2.0] + [0.0] * 5 + [1.0] + [0.0] * 17
                                                 + [1.0])
    # beyond two hours each wait counts too, in the same bin or another
    beyond = WaitHistogram()
    for wait in (3.0, 3.0, 2.5):
        beyond.add(wait)
    assert beyond.five_minute_bins()[-1] == 3.0


def test_staff_are_paid_for_the_opening_hours_and_for_finishing_the_last_visit() -> None:
    """One server at 10 an hour, open 9 to 17. Day 0: a visit from 16.5 to 17.5 keeps the
    server half an hour past closing: 8.5 paid hours. Day 1: nobody, 8 hours."""
    scenario = hand_market(run__days=2, run__warmup_days=0, business__servers=1,
                           business__open_hour=9, business__close_hour=17,
                           business__staff_cost_per_hour=10.0)
    run = scripted_run(scenario, [16.5])
    assert run.metrics["staff_cost"] == pytest.approx(10.0 * (8.5 + 8))
    assert run.metrics["utilisation"] == pytest.approx(1.0 / (8.5 + 8))


def test_utilisation_counts_the_service_of_every_served_visit() -> None:
    """The same server and hours, two visits of 1 h on day 0 (at 10 and at 16.5): 2 busy
    hours over 8.5 + 8 paid ones."""
    scenario = hand_market(run__days=2, run__warmup_days=0, business__servers=1,
                           business__open_hour=9, business__close_hour=17)
    run = scripted_run(scenario, [10.0, 16.5])
    assert run.metrics["served"] == 2
    assert run.metrics["utilisation"] == pytest.approx(2.0 / (8.5 + 8))


def test_every_day_books_its_acquisition_cost_warm_up_or_not() -> None:
    """Nobody can afford the price, so the only money is marketing: each day's profit is
    minus 15 per prospect of that day, before and after the warm-up alike."""
    scenario = hand_market(**{"strategy.tiers[0].price": 500.0})
    arrivals = [24.0 * day + 5 for day in range(21)]
    run = scripted_run(scenario, arrivals)
    assert tuple(run.daily["prospects"]) == tuple([1.0] * 21)
    assert tuple(run.daily["profit"]) == tuple([-15.0] * 21)
    assert run.metrics["acquisition_cost"] == 14 * 15  # the measured days only
    assert run.metrics["lost_prospects"] == 14


def test_a_firm_scoring_the_norm_keeps_its_reputation_and_an_image_of_one() -> None:
    run = scripted_run(hand_market(), [1.0, 3.0, 5.0])  # every visit scores 8.5 = the norm
    assert set(run.daily["reputation"]) == {8.5}
    assert set(run.daily["image"]) == {1.0}


def test_a_run_reports_every_metric_and_column_under_its_documented_name() -> None:
    """Names are the interface (files, charts, reports read them): a run holds exactly
    the metrics of sim/metrics.py, a daily series per day, and the segment and tier
    tables under the scenario's names."""
    run = scripted_run(hand_market(), [1.0, 3.0, 5.0])
    assert list(run.metrics) == [m.key for m in METRICS]
    assert tuple(run.daily) == DAILY_COLUMNS
    assert all(len(series) == 21 for series in run.daily.values())
    assert set(run.distributions) == {"satisfaction", "wait_minutes", "retention_by_period",
                                      "repeat_rate_by_period", "survival_by_week"}
    assert list(run.segments) == ["all"]
    assert tuple(run.segments["all"]) == SEGMENT_COLUMNS
    assert list(run.tiers) == ["only"]
    assert tuple(run.tiers["only"]) == TIER_COLUMNS
    assert set(run.checks) == {"in_system", "prospects_pending", "cash",
                               "max_waiting_ahead_joined", "min_waiting_ahead_balked"}


# --- the same definitions, recomputed from the visit log on random scenarios ----------

def reference_metrics(scenario: Scenario, recorder: Recorder) -> dict[str, float]:
    """docs/model.md's definitions applied to the raw visit log, written independently of
    sim/model/tally.py: sets and sorts, no running totals."""
    warmup = scenario.run.warmup_days * 24.0
    days = scenario.run.days
    period = scenario.run.retention_period_days * 24.0
    events = recorder.events
    measured = [e for e in events if e.arrived_h >= warmup]
    served = [e for e in measured if e.outcome == SERVED]
    by_key: dict[tuple[int, ...], list[Any]] = defaultdict(list)
    for e in events:
        by_key[e.key].append(e)
    first_purchase = {k: min(e.ended_h for e in es if e.outcome == SERVED)
                      for k, es in by_key.items() if any(e.outcome == SERVED for e in es)}
    churn_time = {k: es[-1].ended_h for k, es in by_key.items()
                  if not es[-1].returns and k in first_purchase}
    prospects = {k for k, (t, _) in recorder.prospects.items() if t >= warmup}
    won = prospects & first_purchase.keys()
    lost = {k for k in prospects - won if by_key[k] and not by_key[k][-1].returns}

    def share(a: float, b: float) -> float:
        return a / b if b else math.nan

    complete = int((days * 24.0 - warmup) // period)

    def retention(segment: int | None) -> float:
        rates = []
        for p in range(complete):
            start, end = warmup + p * period, warmup + (p + 1) * period
            alive = {k for k, t in first_purchase.items()
                     if t < start and churn_time.get(k, math.inf) >= start
                     and segment in (None, recorder.prospects[k][1])}
            churned = {k for k in alive if start <= churn_time.get(k, math.inf) < end}
            rates.append(1 - len(churned) / len(alive) if alive else math.nan)
        return mean(rates)

    buyers: dict[int, set[tuple[int, ...]]] = defaultdict(set)
    for e in served:
        buyers[int((e.ended_h - warmup) // period)].add(e.key)
    repeat = [share(len(buyers[p] & buyers[p + 1]), len(buyers[p]))
              if buyers[p] else math.nan for p in range(complete - 1)]
    latest: dict[tuple[int, ...], float] = {}
    for e in served:
        latest[e.key] = e.satisfaction
    b = scenario.behaviour

    def nps(scores: list[float]) -> float:
        good = sum(s >= b.promoter_threshold for s in scores)
        bad = sum(s <= b.detractor_threshold for s in scores)
        return share(100.0 * (good - bad), len(scores))

    queued = [e for e in measured if e.outcome in (SERVED, ABANDONED)]
    # CLV: each age (in days since the first purchase) averages the cash of the cohort
    # customers old enough to have reached it by the last day
    first_day = {k: int(first_purchase[k] // 24) for k in won}
    cash_by_age: dict[int, float] = defaultdict(float)
    rate = scenario.market.discount_rate_per_year
    for k in won:
        for e in by_key[k]:
            if e.outcome == SERVED:
                age_h = e.ended_h - first_purchase[k]
                cash_by_age[int(e.ended_h // 24) - first_day[k]] += (
                    e.flow * (1 + rate) ** (-age_h / 8760))
    clv = math.fsum(cash / sum(1 for d in first_day.values() if d <= days - 1 - age)
                    for age, cash in cash_by_age.items())
    return {
        "clv": clv if won else math.nan,
        "arrivals": len(measured), "served": len(served),
        "abandoned": sum(e.outcome == ABANDONED for e in measured),
        "balked": sum(e.outcome == BALKED for e in measured),
        "priced_out": sum(e.outcome == PRICED_OUT for e in measured),
        "turned_away": sum(e.outcome == TURNED_AWAY for e in measured),
        "waitlisted": sum(e.waitlisted for e in measured),
        "revenue": math.fsum(e.price - e.refund for e in served),
        "customers_served": len({e.key for e in served}),
        "prospects_new": sum(k[0] == NEW for k in prospects),
        "prospects_referred": sum(k[0] != NEW for k in prospects),
        "customers_won": len(won), "lost_prospects": len(lost),
        "conversion_rate": share(len(won), len(prospects)),
        "customers_churned": sum(t >= warmup for t in churn_time.values()),
        "customer_retention": retention(None), "repeat_rate": mean(repeat),
        **{f"segment {i} retention": retention(i) for i in range(len(scenario.segments))},
        "visit_return_rate": share(sum(e.returns for e in served), len(served)),
        "mean_satisfaction": share(math.fsum(e.satisfaction for e in served), len(served)),
        "nps_per_visit": nps([e.satisfaction for e in served]),
        "nps": nps(list(latest.values())),
        "mean_wait_h": share(math.fsum(e.wait_h for e in served), len(served)),
        "mean_wait_joined_h": share(math.fsum(e.wait_h for e in queued), len(queued)),
        "wait_probability": share(sum(e.wait_h > 0 for e in served), len(served)),
    }


def mean(values: list[float]) -> float:
    defined = [v for v in values if not math.isnan(v)]
    return sum(defined) / len(defined) if defined else math.nan


@conservation
@same_scenarios
@given(valid_scenarios())
def test_the_books_agree_with_the_definitions_applied_to_the_visit_log(
        scenario: Scenario) -> None:
    assert_books_agree_with_the_visit_log(scenario)


# A busy fortnight of each kind of firm in the tiny market: requests, failures and
# claims (god), three tiers with priorities (tiered), a daily quota with a waitlist
# (scarcity), the partner's moving service level; the same definitions, and every
# column of the visit log against the books.
BUSY = {"run.days": 21, "run.warmup_days": 4, "business.failure_rate": 0.2}


@pytest.mark.parametrize("preset", ["god", "tiered", "scarcity", "partner"])
def test_the_books_agree_with_the_visit_log_of_each_kind_of_firm(preset: str) -> None:
    scenario = tiny_scenario(preset, BUSY)
    run, recorder = assert_books_agree_with_the_visit_log(scenario)
    m = run.metrics
    warmup = scenario.run.warmup_days * 24.0
    served = [e for e in recorder.events if e.arrived_h >= warmup and e.outcome == SERVED]
    assert len(served) > 50
    assert sum(e.requests_honoured for e in served) == (
        m["requests_honoured_reasonable"] + m["requests_honoured_unreasonable"])
    assert sum(e.requests_refused for e in served) == (
        m["requests_refused_reasonable"] + m["requests_refused_unreasonable"])
    assert sum(e.failed for e in served) == m["failures"] > 0
    assert sum(e.claimed for e in served) == m["genuine_claims"] + m["abuse_claims"]
    assert math.fsum(e.refund for e in served) == pytest.approx(m["refunds"])
    if preset == "god":  # honours every request and refunds every claim
        assert m["requests_honoured_reasonable"] > 0 < m["requests_honoured_unreasonable"]
        assert m["abuse_refunded"] == m["abuse_claims"] > 0
    if preset == "tiered":  # screens requests: refuses unreasonable ones it catches
        assert m["requests_refused_unreasonable"] > 0
    promoter = scenario.behaviour.promoter_threshold
    for i, (name, row) in enumerate(run.segments.items()):
        mine = [e for e in served if e.segment == i]
        assert len(mine) == row["served"]
        assert math.fsum(e.wait_h for e in mine) == pytest.approx(row["wait_h"])
        assert math.fsum(e.price - e.refund for e in mine) == pytest.approx(row["revenue"])
        assert sum(e.satisfaction >= promoter for e in mine) == row["promoters"], name
    for j, row in enumerate(run.tiers.values()):
        mine = [e for e in served if e.tier == j]
        assert len(mine) == row["served"]
        assert math.fsum(e.wait_h for e in mine) == pytest.approx(row["wait_h"])
        assert math.fsum(e.price - e.refund for e in mine) == pytest.approx(row["revenue"])
        if mine:
            assert row["mean_wait_h"] == pytest.approx(row["wait_h"] / len(mine))
    visits: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for e in sorted(recorder.events, key=lambda e: e.arrived_h):
        visits[e.key].append(e.visit)
        assert e.ended_h >= e.arrived_h
        if e.outcome == SERVED:  # from the visit's arrival: its appointment, line, chair
            assert e.ended_h - e.arrived_h == pytest.approx(
                e.appointment_h + e.wait_h + e.service_h)
        assert e.waitlisted == (e.arrived_h // 24 < (e.arrived_h + e.appointment_h) // 24)
    assert all(numbers == list(range(len(numbers))) for numbers in visits.values())
    # every prospect of the window is won, lost, or still deciding at the horizon
    assert m["prospects_new"] + m["prospects_referred"] == (
        m["customers_won"] + m["lost_prospects"] + run.checks["prospects_pending"])
    for e in recorder.events:  # a visit not served sold nothing and asked for nothing
        if e.outcome != SERVED:
            assert (e.price, e.refund, e.flow, e.service_h) == (0.0, 0.0, 0.0, 0.0)
            assert (e.requests_honoured, e.requests_refused, e.failed, e.claimed) == (
                0, 0, False, False)
            assert math.isnan(e.satisfaction)
    assert set(visits) <= set(recorder.prospects)


def assert_books_agree_with_the_visit_log(scenario: Scenario) -> tuple[RunResult, Recorder]:
    recorder = Recorder()
    run = run_replication(scenario, 0, recorder)
    expected_metrics = reference_metrics(scenario, recorder)
    # visits still queued, in service or waitlisted at the horizon have not ended yet
    expected_metrics["arrivals"] += run.checks["in_system"]
    waitlisted = expected_metrics.pop("waitlisted")  # some may still be waiting
    assert 0 <= run.metrics["waitlisted"] - waitlisted <= run.checks["in_system"]
    expected_metrics["abandonment_per_arrival"] = (
        expected_metrics["abandoned"] / expected_metrics["arrivals"]
        if expected_metrics["arrivals"] else math.nan)
    names = [segment.name for segment in scenario.segments]
    for key, expected in expected_metrics.items():
        got = (run.segments[names[int(key.split()[1])]]["customer_retention"]
               if key.startswith("segment ") else run.metrics[key])
        assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(
            expected, rel=1e-9, abs=1e-9), (key, got, expected)
    return run, recorder


def test_the_survival_curve_and_customer_retention_tell_the_same_story() -> None:
    """Every customer decides once a week, returning with probability 0.8 whatever
    happened (logit ln 4), so a week's retention is 0.8 and the cohort's survival after
    w weeks is 0.8^w. With weekly periods both estimate the same 0.8: customer
    retention over 8 weekly periods with about 700 customers alive at each start (sd of a
    period's rate sqrt(0.16 / 700) = 0.015, of the mean of 8 about 0.005), survival from
    about 1,560 customers won (sd about 0.01 after one week, 0.013 after three); 0.03 is
    more than two standard errors for each."""
    scenario = hand_market(**{
        "run.days": 120, "run.warmup_days": 60, "market.new_customers_per_day": 25.0,
        "business.servers": 50, "behaviour.return_intercept": math.log(4),
        "behaviour.return_satisfaction_weight": 0.0})
    run = run_replication(scenario, 0)
    assert run.metrics["customer_retention"] == pytest.approx(0.8, abs=0.03)
    assert run.distributions["survival_by_week"][1] == pytest.approx(0.8, abs=0.03)
    assert run.distributions["survival_by_week"][3] == pytest.approx(0.8**3, abs=0.03)


# --- rules that only show off the defaults ----------------------------------------------

def test_a_prospect_still_undecided_at_the_horizon_is_not_in_the_survival_cohort() -> None:
    """The three regulars and the blocker without a warm-up, and P, who arrives at 503.5
    and is still in the chair at the horizon (504): a prospect, not a customer of the
    cohort. The cohort: A, B, C (first purchases at 2, 4, 6) and E (341.9). B dies in week 2 (at
    341.5, 337.5 h after buying); A and C are still customers at 502 and 498 h (week 2),
    E at 162.1 h (week 0). Life table: week 0, 4 at risk, E counts half: 3.5 exposed, no
    death; week 1 the same 3; week 2, 3 at risk, A and C half: 2 exposed, 1 death: 1/2."""
    scenario = hand_market(business__servers=1, run__warmup_days=0)
    run = scripted_run(scenario, [1.0, 3.0, 5.0, 340.9, 503.5])
    assert run.checks["prospects_pending"] == 1
    assert run.distributions["survival_by_week"] == (1.0, 1.0, 1.0, 0.5)


def test_a_voice_louder_than_the_memory_moves_reputation_to_the_score_and_no_further() -> None:
    """A memory of one visit: a visit's weight is min(1, voice / 1). The visit that gives
    up at 0.6 speaks as a detractor (voice 2): weight 1, so the reputation becomes its
    score, 0, not 8.5 + 2 (0 - 8.5). The served visit's 8.5 is passive, and passives are
    silent here (passive_voice 0)."""
    scenario = hand_market(run__days=1, run__warmup_days=0, business__servers=1,
                           market__reputation_memory_visits=1.0, behaviour__passive_voice=0.0)
    run = scripted_run(scenario, [0.0, 0.1])
    assert run.metrics["abandoned"] == 1
    assert run.metrics["reputation_end"] == 0.0


@pytest.mark.parametrize(("intercept", "comes_back"), [(-179.0, True), (-259.0, False)])
def test_lock_in_holds_customers_by_the_square_of_the_share_without_alternatives(
        intercept: float, comes_back: bool) -> None:
    """Alternatives 0.5: a lock-in of 800 adds 800 x 0.5^2 = 200 to the return logit,
    the alternatives take 2 x 0.5 = 1 and a plain visit adds 20 x 1.5 = 30: the logit is
    intercept + 229. At -179 that is +50, the customer comes back (with the cube,
    800 x 0.125, it would be -50); at -259 it is -30, it leaves (with the first power,
    800 x 0.5, it would be +170)."""
    scenario = hand_market(run__days=1, run__warmup_days=0, market__alternatives=0.5,
                           market__lock_in=800.0, behaviour__return_intercept=intercept)
    recorder = Recorder()
    scripted_run(scenario, [1.0], recorder)
    assert [e.returns for e in recorder.events] == [comes_back]


@pytest.mark.parametrize("counts_own_service", [False, True])
def test_a_customer_who_counts_its_own_service_time_may_balk_at_an_empty_shop(
        counts_own_service: bool) -> None:
    """No one ahead, so no wait. At 60 an hour the one-hour service costs more than the
    50 the visit leaves: a customer counting its own service time (Naor's observable
    queue) balks, one counting only the wait joins."""
    scenario = hand_market(run__days=1, run__warmup_days=0, **{
        "segments[0].value_of_time_per_h": 60.0,
        "behaviour.balk_counts_own_service": counts_own_service})
    recorder = Recorder()
    scripted_run(scenario, [1.0], recorder)
    assert [e.outcome for e in recorder.events] == [BALKED if counts_own_service else SERVED]


def test_a_customer_who_counts_its_own_service_time_adds_it_to_the_wait() -> None:
    """One server, A served 0-1; B at 0.1 expects an hour's wait, then its own hour of
    service. At 30 an hour either alone would leave 20 of the 50 the visit is worth;
    both together cost 60: B balks. A, with nothing to wait for, joins."""
    scenario = hand_market(run__days=1, run__warmup_days=0, business__servers=1, **{
        "segments[0].value_of_time_per_h": 30.0, "behaviour.balk_counts_own_service": True})
    recorder = Recorder()
    scripted_run(scenario, [0.0, 0.1], recorder)
    assert [e.outcome for e in sorted(recorder.events, key=lambda e: e.arrived_h)] == [
        SERVED, BALKED]


def basic_and_gold(refunds: str) -> list[dict[str, Any]]:
    """basic at 50 for everyone, gold at 60 from a past spend of 100; no requests, no
    delight, refunds as given."""
    return [{"name": "basic", "price": 50.0, "requests": "none", "refunds": refunds,
             "delight_chance": 0.0},
            {"name": "gold", "price": 60.0, "min_spend": 100.0, "requests": "none",
             "refunds": refunds, "delight_chance": 0.0}]


@pytest.mark.parametrize(("assignment", "tiers_offered"), [
    ("by_spend", [0, 0, 1]), ({"kind": "by_segment", "tiers": {"all": "gold"}}, [1, 1, 1])])
def test_a_run_offers_the_tier_the_assignment_names(assignment: Any,
                                                    tiers_offered: list[int]) -> None:
    """basic at 50 for everyone, gold at 60 from a past spend of 100. A customer comes
    weekly (1, 170, 339): by spend it has spent 0, 50, 100 before each visit, so it is
    offered basic, basic, gold; by segment its segment is offered gold every time."""
    scenario = hand_market(strategy__tiers=basic_and_gold("never"),
                           strategy__assignment=assignment)
    recorder = Recorder()
    scripted_run(scenario, [1.0], recorder)
    assert [e.tier for e in recorder.events] == tiers_offered
    assert [e.price for e in recorder.events] == [(50.0, 60.0)[j] for j in tiers_offered]


def test_past_spend_is_net_of_refunds() -> None:
    """The tiers above, by spend, every visit failing and its price refunded (a genuine
    claim, always paid; the customer returns whatever it thinks): a customer who got
    back all it paid has spent nothing, so it is offered basic every week."""
    scenario = hand_market(
        strategy__tiers=basic_and_gold("always"), strategy__assignment="by_spend",
        business__failure_rate=1.0,
        behaviour__genuine_claim_probability=1.0, behaviour__return_intercept=1000.0)
    recorder = Recorder()
    scripted_run(scenario, [1.0], recorder)
    assert [(e.tier, e.price, e.refund) for e in recorder.events] == [(0, 50.0, 50.0)] * 3


def test_the_image_scales_the_value_a_customer_sees_at_the_offer() -> None:
    """A memory of one visit, silent passives, image sensitivity 1: the visit that gives
    up at 0.6 takes the reputation to 0 and the image to 1 + (0 - 8.5) / 10 = 0.15.
    C, at 2.0, sees a visit worth 100 x 0.15 = 15 for a price of 50: priced out (at the
    image of 1 it would have bought)."""
    scenario = hand_market(run__days=1, run__warmup_days=0, business__servers=1,
                           market__reputation_memory_visits=1.0,
                           market__image_sensitivity=1.0, behaviour__passive_voice=0.0)
    recorder = Recorder()
    run = scripted_run(scenario, [0.0, 0.1, 2.0], recorder)
    assert {e.key[1]: e.outcome for e in recorder.events} == {
        0: SERVED, 1: ABANDONED, 2: PRICED_OUT}
    assert run.daily["image"][0] == pytest.approx(0.15)


def test_the_longest_queue_joined_and_the_shortest_balked_at_are_those_seen() -> None:
    """One server, time worth 30 an hour, a visit worth 50 over its price. A (0.0) finds
    the server free and nobody waiting; B (0.2) expects an hour's wait (30) and joins
    with nobody waiting ahead; C (0.3) expects two hours (60) and balks with B waiting."""
    scenario = hand_market(run__days=1, run__warmup_days=0, business__servers=1,
                           **{"segments[0].value_of_time_per_h": 30.0})
    run = scripted_run(scenario, [0.0, 0.2, 0.3])
    assert (run.metrics["served"], run.metrics["abandoned"], run.metrics["balked"]) == (1, 1, 1)
    assert run.checks["max_waiting_ahead_joined"] == 0
    assert run.checks["min_waiting_ahead_balked"] == 1


def test_a_review_reads_the_mean_satisfaction_and_margin_since_the_last_one() -> None:
    """Two visits at 50 leaving 20 and 30 in cash, scored 6 and 9, in the warm-up (the
    strategy reviews every visit, measured or not): satisfaction 7.5, margin 50 / 100.
    The next review, with no visit since, has neither."""
    t = Tally(1, 1, 28, 7, 7, 0.0)
    for score, cash in ((6.0, 20.0), (9.0, 30.0)):
        v = Visit(100.0)
        v.price, v.refund, v.satisfaction, v.flow = 50.0, 0.0, score, cash
        t.served(0, v, promoter=score >= 9, detractor=score <= 6, measured=False)
    assert t.review() == (7.5, 0.5)
    satisfaction, margin = t.review()
    assert math.isnan(satisfaction)
    assert margin == -math.inf


def test_the_partner_reviews_the_margin_of_the_whole_period() -> None:
    """Daily reviews, aiming at satisfaction 9 with a margin of at least 0.5. Day 0: two
    new customers (15 each to acquire) buy a visit at 50 that costs 8: the day's margin
    is (2 x 42 - 2 x 15) / 100 = 0.54, enough, and a satisfaction of 8.5 under the aim
    raises the level by a step (a margin of one visit, 42 / 100, would lower it)."""
    scenario = hand_market(run__days=2, run__warmup_days=0, strategy__adaptation={
        "kind": "satisfaction_target", "target": 9.0, "band": 0.5, "min_margin": 0.5,
        "step": 0.05, "min_level": 0.8, "max_level": 1.5, "period_days": 1})
    run = scripted_run(scenario, [1.0, 3.0])
    assert run.daily["profit"][0] == pytest.approx(2 * 42 - 2 * 15)
    assert tuple(run.daily["service_level"]) == pytest.approx((1.0, 1.05))


# --- rows a strategy's rules hold at 0 ----------------------------------------------------

RULE_CASES = [
    ("god", {}),  # admits everyone, no limit to the waiting room, fixes every failure,
    # honours every request
    ("god", {"business.max_waiting": 0}),  # a full waiting room turns visits away
    ("god", {"strategy.recovery": "apologize"}),  # a failure stays, and brings claims
    ("god", {"strategy.recovery": "none"}),
    ("god", {"strategy.tiers[0].requests": "none"}),
    ("god", {"strategy.tiers[0].requests": "reasonable"}),  # screened: some refused
    ("god", {"strategy.tiers[0].refunds": "never"}),
    ("tiered", {}),  # tiers that honour all, some or no requests
    ("scarcity", {}),  # daily slots with a waitlist, apologies, no request, no refund
    ("scarcity", {"strategy.admission.waitlist": False}),  # slots, no later day
]
HELD_BY_RULES = ("turned_away", "waitlisted", "genuine_claims", "requests_refused_reasonable",
                 "requests_refused_unreasonable", "requests_honoured_reasonable",
                 "requests_honoured_unreasonable", "abuse_refunded")


@pytest.mark.parametrize(("preset", "settings"), RULE_CASES)
def test_a_metric_is_held_at_zero_by_rule_exactly_where_the_model_never_books_it(
        preset: str, settings: dict[str, Any]) -> None:
    """The tables leave out, with a note, the rows a strategy's rules hold at 0
    (``zero_by_rule``): such a row must be 0 in every replication, and where no rule
    holds it the tiny market books some (so the claim is the rule's, not the market's)."""
    scenario = tiny_scenario(preset, settings)
    claimed = zero_by_rule(scenario)
    assert claimed.keys() <= set(HELD_BY_RULES)  # every rule is checked here
    runs = [run_replication(scenario, rep) for rep in range(3)]
    for key in HELD_BY_RULES:
        never = all(r.metrics[key] == 0 for r in runs)
        assert never == (key in claimed), (key, claimed, [r.metrics[key] for r in runs])


def test_every_metric_a_rule_holds_at_zero_is_named_where_the_tables_are_explained() -> None:
    """docs/columns.md says which rows the tables leave out and under which rule; a rule
    added to ``zero_by_rule`` must be named there too."""
    from sim.docs import render_columns

    intro = render_columns().split("| metric |")[0]
    held = {"requests_refused_reasonable", "requests_refused_unreasonable",
            "requests_honoured_reasonable", "requests_honoured_unreasonable"}
    named = [key for key in HELD_BY_RULES if f"`{key}`" in intro]
    assert set(HELD_BY_RULES) - set(named) == held  # named together: "the requests refused"
    assert "the requests refused when every tier's requests are `all`" in " ".join(intro.split())
    assert "those honoured when every tier's are `none`" in " ".join(intro.split())
