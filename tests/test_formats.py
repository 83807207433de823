"""Numbers read the same wherever they appear: one formatter for tables, reports and charts."""

from __future__ import annotations

import math

from sim.formats import (
    MINUS,
    format_amount_tick,
    format_compact,
    format_difference,
    format_duration,
    format_half_width,
    format_number,
    format_parameter,
    format_percent,
    format_plain,
    format_short,
    format_size,
    format_value,
    format_wait_tick,
)
from sim.metrics import METRIC_BY_KEY, Estimate


def test_tables_show_money_shares_and_hours_as_people_read_them() -> None:
    assert format_value(36412.4, "money") == "36,412"
    assert format_value(12.345, "money") == "12.35"
    assert format_value(0.575, "share") == "57.5%"
    assert format_value(0.75, "hours") == "45.0 min"
    assert format_value(2.5, "hours") == "2.50 h"
    assert format_value(math.nan, "money") == "n/a"


def test_counts_are_whole_numbers_even_as_means_over_replications() -> None:
    assert format_value(63.67, "count") == "64"
    assert format_value(2334.4, "count") == "2,334"
    served = METRIC_BY_KEY["customers_served"]
    assert format_half_width(Estimate(829.0, 40.0, 3, 769.36, 888.64), served) == "60"
    assert format_half_width(Estimate(2.0, 0.2, 3, 1.6, 2.4), served) == "0.4"
    assert format_difference(Estimate(63.67, 10.0, 3, 25.64, 101.7), served) == "+64 ±38"


def test_a_difference_of_net_promoter_scores_has_one_sign() -> None:
    nps = METRIC_BY_KEY["nps"]
    assert format_difference(Estimate(57.0, 5.0, 3, 42.4, 71.6), nps) == "+57.0 ±14.6"
    assert format_difference(Estimate(-3.0, 5.0, 3, -9.0, 3.0), nps) == "-3.0 ±6.0"


def test_a_wait_half_width_is_in_the_unit_of_its_mean() -> None:
    wait = METRIC_BY_KEY["mean_wait_h"]
    assert format_half_width(Estimate(0.0867, 0.01, 3, 0.0667, 0.1067), wait) == "1.2"
    assert format_difference(Estimate(-0.0183, 0.01, 3, -0.0333, -0.0033), wait) == \
        "-1.1 min ±0.9"
    assert format_half_width(Estimate(3.0, 0.2, 3, 2.5, 3.5), wait) == "0.50"


def test_a_rounded_zero_loses_its_sign_and_a_size_has_none() -> None:
    assert format_plain(-0.0001, "hours") == "0.0 min"
    assert format_plain(-36412.4, "money") == "-36,412"
    assert format_size(-0.0321, METRIC_BY_KEY["customer_retention"]) == "3.2 points"


def test_a_share_difference_is_in_points_with_its_half_width() -> None:
    d = Estimate(-0.042, 0.01, 8, -0.047, -0.037)
    assert format_difference(d, METRIC_BY_KEY["customer_retention"]) == "-4.2 pts ±0.5"


def test_charts_write_short_numbers_with_a_typographic_minus() -> None:
    assert format_short(1_500_000) == "1.5M"
    assert format_short(12_345) == "12k"
    assert format_short(-2_500) == f"{MINUS}2.5k"
    assert format_percent(0.25) == "25%"
    assert format_percent(0.575) == "57.5%"
    assert format_compact(0.575, "share") == "57.5%"
    assert format_compact(-1234, "money") == f"{MINUS}1.2k"
    assert format_compact(0.75, "hours") == "45 min"
    assert format_compact(0.01, "hours") == "0.6 min"
    assert format_wait_tick(0.0) == "0 min"
    assert format_wait_tick(-0.05) == f"{MINUS}3 min"
    assert format_wait_tick(0.01) == "0.6 min"
    assert format_wait_tick(2.5) == "2.5 h"
    assert format_amount_tick(0.5) == "0.5"
    assert format_parameter(0.36666) == "0.367"
    assert format_parameter(110.0) == "110"


def test_settings_read_as_durations_and_plain_numbers() -> None:
    assert format_duration(0.75) == "45 min"
    assert format_duration(1.5) == "1.5 h"
    assert format_duration(240) == "10 d"
    assert format_duration(672) == "4 w"
    assert format_number(2500) == "2,500"
    assert format_number(0.12345) == "0.1235"


def test_a_label_inside_a_sentence_keeps_its_acronyms_and_currency() -> None:
    from sim.formats import in_sentence

    assert in_sentence("Profit (EUR)") == "profit (EUR)"
    assert in_sentence("CLV / CAC") == "CLV / CAC"
    assert in_sentence("NPS") == "NPS"
