"""Listings a page at a time, filtered by model, user and metric, on each pair of stores:
every row exactly once across the pages, ties in started_at included."""

from __future__ import annotations

import functools
import sqlite3

import psycopg
import pytest

from maas_nb.exceptions import InvalidQueryError
from maas_nb.registry import MetricFilter, Page, Registry

pytestmark = pytest.mark.usefixtures("stores")


def _sql(registry: Registry, statement: str, params: tuple = ()) -> None:
    """Run *statement* on the registry's own database (ties no clock would make)."""
    uri = registry.registry_uri
    if uri.startswith("sqlite:///"):
        with sqlite3.connect(uri.removeprefix("sqlite:///")) as conn:
            conn.execute(statement, params)
        return
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(statement.replace("?", "%s"), params)


def _all_pages(listed, size):
    """Every page of *listed(limit=, after=)*, following `Page.next` to the end."""
    pages, after = [], None
    while True:
        page = listed(limit=size, after=after)
        assert isinstance(page, Page) and len(page) <= size
        pages.append(page)
        if page.next is None:
            return pages
        after = page.next


def _runs(registry, people):
    """One finished run per (name, user, accuracy) in *people*; their ids in that order."""
    ids = []
    for name, user, accuracy in people:
        run = registry.start_run(name)
        _sql(registry, "UPDATE runs SET created_by = ? WHERE id = ?", (user, run.id))
        registry.end_run(run.id, metrics={"accuracy": accuracy})
        ids.append(run.id)
    return ids


PEOPLE = [
    ("train", "ada", 0.95),
    ("train", "grace", 0.80),
    ("tune", "ada", 0.91),
    ("train", "ada", 0.70),
    ("tune", "grace", 0.99),
    ("train", "ada", 0.90),
    ("train", "grace", 0.93),
]


def test_pages_hold_every_run_once_with_ties_in_started_at(registry):
    _runs(registry, PEOPLE)
    # Five runs started in the same microsecond: only their ids order them.
    _sql(registry, "UPDATE runs SET started_at = '2026-01-01T00:00:00+00:00' WHERE name = 'train'")
    everything = registry.list_runs()
    assert everything.next is None and len(everything) == 7
    for newest_first in (False, True):
        for size in (1, 2, 3, 7):
            pages = _all_pages(
                functools.partial(registry.list_runs, newest_first=newest_first), size
            )
            ids = [r.id for p in pages for r in p]
            expected = [r.id for r in everything]
            assert ids == (expected[::-1] if newest_first else expected)
            assert [len(p) for p in pages][:-1] == [size] * (len(pages) - 1)
    ordered = [(r.started_at, r.id) for r in everything]
    assert ordered == sorted(ordered)


def test_runs_filtered_by_model_user_and_metric(registry):
    ids = _runs(registry, PEOPLE)

    def listed(**filters):
        pages = _all_pages(lambda **page: registry.list_runs(**filters, **page), 2)
        return [ids.index(r.id) for p in pages for r in p]

    assert listed() == [0, 1, 2, 3, 4, 5, 6]
    assert listed(user="ada") == [0, 2, 3, 5]
    assert registry.list_runs("train", user="ada")[0].created_by == "ada"
    assert [ids.index(r.id) for r in registry.list_runs("train", user="ada")] == [0, 3, 5]
    assert listed(metric="accuracy>0.9") == [0, 2, 4, 6]
    assert listed(metric="accuracy >= 0.9") == [0, 2, 4, 5, 6]
    assert listed(metric="accuracy<0.8") == [3]
    assert listed(metric="accuracy<=0.8") == [1, 3]
    assert listed(metric="accuracy=0.9") == [5]
    assert listed(metric="loss<1") == []  # runs without the metric never match
    assert listed(user="grace", metric=MetricFilter("accuracy", ">", 0.9)) == [4, 6]
    assert registry.list_runs("nobody") == []


def test_a_run_added_between_pages_is_on_a_later_page_and_nothing_repeats(registry):
    _runs(registry, PEOPLE[:3])
    first = registry.list_runs(limit=2)
    (added,) = _runs(registry, [("train", "ada", 0.5)])
    rest = registry.list_runs(limit=2, after=first.next)
    assert [r.id for r in rest] == [registry.list_runs()[2].id, added]
    assert rest.next is None


def test_versions_filtered_and_paged(registry, classifier, monkeypatch):
    for user, accuracy in [("ada", 0.9), ("grace", 0.95), ("ada", 0.97), ("ada", 0.5)]:
        monkeypatch.setenv("MAAS_USER", user)
        registry.register(classifier, "iris", metrics={"accuracy": accuracy})
    registry.set_alias("iris:3", "production")

    def listed(**filters):
        pages = _all_pages(lambda **page: registry.list_versions("iris", **filters, **page), 1)
        return [v.version for p in pages for v in p]

    assert listed() == [1, 2, 3, 4]
    assert listed(newest_first=True) == [4, 3, 2, 1]
    assert listed(user="ada") == [1, 3, 4]
    assert listed(user="ada", metric="accuracy>0.9") == [3]
    page = registry.list_versions("iris", user="ada", limit=2)
    assert [(v.version, v.created_by, v.aliases) for v in page] == [
        (1, "ada", ()),
        (3, "ada", ("production",)),
    ]


def test_every_models_versions_in_registration_order_ties_included(registry, classifier):
    for name in ["iris", "forest", "iris", "beta", "forest"]:
        registry.register(classifier, name, metrics={"accuracy": 0.5})
    registry.set_alias("forest:2", "production")
    # Three registered in the same microsecond: the name, then the number, order them.
    _sql(
        registry,
        "UPDATE versions SET created_at = '2999-01-01T00:00:00+00:00' "
        "WHERE NOT (name = 'iris' AND version = 1) AND NOT (name = 'forest' AND version = 1)",
    )
    expected = ["iris:1", "forest:1", "beta:1", "forest:2", "iris:2"]
    assert [v.uri for v in registry.list_all_versions()] == expected
    for newest_first in (False, True):
        for size in (1, 2, 5):
            pages = _all_pages(
                functools.partial(registry.list_all_versions, newest_first=newest_first), size
            )
            uris = [v.uri for p in pages for v in p]
            assert uris == (expected[::-1] if newest_first else expected)
    newest = registry.list_all_versions(newest_first=True, limit=2)
    assert [(v.uri, v.aliases) for v in newest] == [("iris:2", ()), ("forest:2", ("production",))]
    cursor = registry.list_versions("iris", limit=1).next
    with pytest.raises(InvalidQueryError, match="does not come from this listing"):
        registry.list_all_versions(limit=1, after=cursor)


def test_pipeline_runs_filtered_by_name_and_user(registry, monkeypatch):
    made = []
    for name, user in [("nightly", "ada"), ("adhoc", "grace"), ("nightly", "grace")]:
        monkeypatch.setenv("MAAS_USER", user)
        made.append(registry.start_pipeline_run(name, notebook="nb.ipynb", source=b"{}").id)
    assert [r.id for r in registry.list_pipeline_runs()] == made
    assert [r.id for r in registry.list_pipeline_runs("nightly")] == [made[0], made[2]]
    assert [r.id for r in registry.list_pipeline_runs(user="grace")] == made[1:]
    first = registry.list_pipeline_runs(user="grace", newest_first=True, limit=1)
    assert [r.id for r in first] == [made[2]]
    later = registry.list_pipeline_runs(user="grace", newest_first=True, after=first.next)
    assert [r.id for r in later] == [made[1]]


@pytest.mark.parametrize(
    "expression",
    ["accuracy", "accuracy>>0.9", "accuracy>high", "accuracy>nan", "acc uracy>1", ">0.9", ""],
)
def test_a_bad_metric_filter_says_how_to_write_one(registry, expression):
    with pytest.raises(InvalidQueryError) as info:
        registry.list_runs(metric=expression)
    assert str(info.value) == (
        "A metric filter is NAME OP NUMBER with OP one of >= <= > < =, got "
        f"{expression!r}. Write it like 'accuracy>0.9' (metric='accuracy>0.9' in Python; "
        "--metric 'accuracy>0.9' in maas and %maas)."
    )


def test_a_cursor_works_only_for_the_listing_that_gave_it(registry):
    _runs(registry, PEOPLE)
    cursor = registry.list_runs(user="ada", limit=1).next
    assert registry.list_runs(user="ada", after=cursor)  # the same listing: fine
    for other in [
        lambda: registry.list_runs(user="grace", after=cursor),
        lambda: registry.list_runs(user="ada", newest_first=True, after=cursor),
        lambda: registry.list_pipeline_runs(user="ada", after=cursor),
        lambda: registry.list_runs(user="ada", after="not-a-cursor"),
    ]:
        with pytest.raises(InvalidQueryError, match="does not come from this listing"):
            other()
    with pytest.raises(InvalidQueryError) as info:
        registry.list_runs(after="garbage!")
    assert str(info.value) == (
        "The cursor 'garbage!' does not come from this listing (runs with these filters and "
        "this order). Pass the cursor the page before printed (next=, or --after in maas and "
        "%maas) with the same filters, or leave it out to start at the first page."
    )


@pytest.mark.parametrize("limit", [0, -1, 10_001, 2.5, True])
def test_a_page_size_out_of_range_is_refused(registry, limit):
    with pytest.raises(InvalidQueryError, match=r"A page holds 1 to 10000 rows, got limit="):
        registry.list_runs(limit=limit)
