"""A split's draws give each arm its share in every window, not just on average."""

from __future__ import annotations

import bisect

from maas_nb.serving import split


def test_every_window_of_draws_gives_each_arm_its_share_to_within_a_few_requests():
    draws = split._Sequence()
    bounds = (90, 100)  # a 90/10 split's cumulative weights
    for size in (100, 1_000, 5_000, 20_000):
        for _ in range(5):  # consecutive windows, not only the first
            picked = [bisect.bisect_right(bounds, draws()) for _ in range(size)]
            candidate = picked.count(1)
            # Independent random draws: one sigma is sqrt(size * 0.09), 95 at 20,000.
            assert abs(candidate - size / 10) <= 3, (size, candidate)


def test_a_client_cycling_through_rows_sees_every_row_reach_both_arms_in_proportion():
    draws = split._Sequence()
    per_row: dict[int, list[float]] = {row: [] for row in range(7)}
    for i in range(7_000):
        per_row[i % 7].append(draws())
    for row, got in per_row.items():
        share = sum(d >= 90 for d in got) / len(got)
        assert 0.09 <= share <= 0.11, (row, share)


def test_two_processes_start_at_different_points():
    assert split._Sequence().x != split._Sequence().x
