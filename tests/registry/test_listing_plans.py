"""The paged, filtered listings' PostgreSQL query plans use schema 7's indexes (on enough rows
for the planner to care), so a page stays fast as the registry grows: bench/listing.py
times them on 100,000 runs; this holds the plans, which do not depend on the machine."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from maas_nb.registry import Registry
from maas_nb.registry.pages import Listing
from maas_nb.registry.postgres_database import PostgresDatabase
from maas_nb.registry.sqlite_database import SqliteDatabase
from tests.registry.bulk import fill_postgres, fill_sqlite, pipeline_run_id

RUNS = ("started_at", "id")


def _plan(uri: str, listing: Listing, table: str, keys, name: str | None) -> str:
    sql, params = listing.select(
        table, keys, name=name, metric_value=PostgresDatabase._metric_value
    )
    with psycopg.connect(uri) as conn:
        rows = conn.execute("EXPLAIN " + sql.replace("?", "%s"), params).fetchall()
    return "\n".join(r[0] for r in rows)


def _scans(plan: str, index: str) -> bool:
    """Whether *plan* reads *index* (an index scan, backward or not, or a bitmap one)."""
    return any("Index Scan" in line and f" {index} " in f"{line} " for line in plan.splitlines())


@pytest.fixture
def filled(postgres_uri):
    Registry()  # the schema
    fill_postgres(postgres_uri, runs=20_000, versions=2_000)
    return postgres_uri


def _deep(listing_of, table, keys, name):
    """*listing_of(after)* three pages in: the cursor comes from a real listing."""
    reg = Registry()
    after = None
    for _ in range(3):
        if table == "runs":
            after = reg.list_runs(name, **listing_of(after)).next
        else:
            after = reg.list_versions(name, **listing_of(after)).next
    return Listing.of(**listing_of(after))


@pytest.mark.parametrize(
    ("filters", "name", "index"),
    [
        ({}, "model-07", "runs_by_name"),
        ({"user": "user-03"}, None, "runs_by_user"),
        ({}, None, "runs_by_started"),
        ({"newest_first": True}, "model-07", "runs_by_name"),
        ({"user": "user-03", "newest_first": True}, None, "runs_by_user"),
        ({"metric": "accuracy>0.9"}, None, "runs_by_started"),
    ],
)
def test_a_page_of_runs_is_read_through_an_index(filled, filters, name, index):
    for deep in (False, True):
        listing = (
            _deep(lambda after: {**filters, "limit": 50, "after": after}, "runs", RUNS, name)
            if deep
            else Listing.of(**filters, limit=50)
        )
        plan = _plan(filled, listing, "runs", RUNS, name)
        assert "Seq Scan" not in plan, plan
        assert _scans(plan, index), plan
        if deep:  # the index finds where the page starts, too
            conditions = [line for line in plan.splitlines() if "Index Cond" in line]
            assert any("ROW(started_at, id)" in line for line in conditions), plan


@pytest.mark.parametrize(
    ("filters", "index"),
    [({}, "versions_pkey"), ({"user": "user-03"}, "versions_by_user")],
)
def test_a_page_of_versions_is_read_through_an_index(filled, filters, index):
    listing = _deep(
        lambda after: {**filters, "limit": 20, "after": after}, "versions", ("version",), "model-03"
    )
    plan = _plan(filled, listing, "versions", ("version",), "model-03")
    assert "Seq Scan" not in plan, plan
    assert _scans(plan, index), plan


def test_the_versions_of_a_page_of_pipeline_runs_are_found_through_an_index(postgres_uri):
    """``maas runs`` and the panel fill REGISTERED by the run ids in the versions' lineage:
    schema 8's expression index, which the store's query must spell exactly as it does."""
    Registry()
    fill_postgres(postgres_uri, runs=0, versions=5_000, pipeline_runs=1_000)
    ids = [pipeline_run_id(j) for j in (3, 500)]
    sql = f"SELECT * FROM versions WHERE {PostgresDatabase._MADE_IN} IN (%s, %s)"
    with psycopg.connect(postgres_uri) as conn:
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, ids).fetchall())
    assert "Seq Scan" not in plan, plan
    assert "versions_by_pipeline_run" in plan, plan
    made = Registry().versions_made_by(ids)
    assert {k: len(v) for k, v in made.items()} == {ids[0]: 5, ids[1]: 5}


def test_sqlite_finds_them_through_the_index_too(home):
    reg = Registry()
    path = str(reg.home / "registry.db")
    fill_sqlite(path, runs=0, versions=2_000, pipeline_runs=400)
    sql = f"SELECT * FROM versions WHERE {SqliteDatabase._MADE_IN} IN (?, ?)"
    with sqlite3.connect(path) as conn:
        plan = " ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, ("a", "b")))
    assert "USING INDEX versions_by_pipeline_run" in plan, plan
    assert [v.uri for v in reg.versions_made_by([pipeline_run_id(7)])[pipeline_run_id(7)]] == [
        f"model-07:{n}" for n in (1, 41, 81, 121, 161)
    ]


def test_a_page_of_every_models_versions_is_read_through_an_index(filled):
    """The panel's Models tab: the newest versions of all models, a page at a time."""
    keys = ("created_at", "name", "version")
    reg = Registry()
    after = None
    for _ in range(3):
        after = reg.list_all_versions(newest_first=True, limit=50, after=after).next
    for listing in (
        Listing.of(newest_first=True, limit=50),
        Listing.of(newest_first=True, limit=50, after=after),
    ):
        plan = _plan(filled, listing, "versions", keys, None)
        assert "Seq Scan" not in plan, plan
        assert _scans(plan, "versions_by_created"), plan
