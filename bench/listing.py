"""Listing benchmark: a page of runs or versions out of 100,000 runs and 10,000 versions.

    PYTHONPATH=. python bench/listing.py [--runs N] [--versions N] [--repeat N] [--page N]

Starts a PostgreSQL server of its own (Debian's ``postgresql`` package, as the tests do, in
a temporary directory; stopped at the end), fills it and a SQLite registry with the same
rows by bulk SQL (COPY; executemany), then times through the `Registry` API the median of
*repeat* calls of the first page and of a deep page (after *page - 1* pages, each fetched
for real to get its cursor), filtered by model, by user and by metric, against the issue's
target of 100 ms. MLflow users report minutes for 30,000 runs (mlflow#2730).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from maas_nb.registry import Page, Registry
from tests.postgres import running_postgres
from tests.registry.bulk import fill_postgres, fill_sqlite

TARGET_MS = 100.0
LIMIT = 50


@contextmanager
def postgres() -> Iterator[str]:
    """A PostgreSQL server started here, and the URI of an empty database on it."""
    with running_postgres("maas-bench-postgres-") as server:
        yield server.create_database()


def median_ms(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def cases(reg: Registry) -> list[tuple[str, Callable[..., Page]]]:
    return [
        ("runs of one model", lambda **p: reg.list_runs("model-07", **p)),
        ("runs of one user", lambda **p: reg.list_runs(user="user-03", **p)),
        ("runs with accuracy>0.9", lambda **p: reg.list_runs(metric="accuracy>0.9", **p)),
        # The worst case: a metric few runs meet, so a page reads most of the table.
        (
            "runs with accuracy>0.999 (rare)",
            lambda **p: reg.list_runs(metric="accuracy>0.999", **p),
        ),
        ("runs, newest first", lambda **p: reg.list_runs(newest_first=True, **p)),
        (
            "runs of one model and user, accuracy>0.5",
            lambda **p: reg.list_runs("model-07", user="user-07", metric="accuracy>0.5", **p),
        ),
        ("versions of one model", lambda **p: reg.list_versions("model-03", **p)),
        (
            "versions of one model by one user",
            lambda **p: reg.list_versions("model-03", user="user-03", **p),
        ),
        (
            "versions of one model, accuracy>0.9",
            lambda **p: reg.list_versions("model-03", metric="accuracy>0.9", **p),
        ),
    ]


def measure(store: str, reg: Registry, *, repeat: int, deep: int) -> None:
    for what, listed in cases(reg):
        after: str | None = None
        pages = [("first page", None)]
        for _ in range(deep - 1):
            after = listed(limit=LIMIT, after=after).next
            if after is None:
                print(f"{store:<10} {what:<42} (fewer than {deep} pages)")
                break
        else:
            pages.append((f"page {deep}", after))
        for page, cursor in pages:
            got = listed(limit=LIMIT, after=cursor)
            ms = median_ms(functools.partial(listed, limit=LIMIT, after=cursor), repeat)
            verdict = "met" if ms < TARGET_MS else "NOT met"
            print(
                f"{store:<10} {what:<42} {page:<10} {len(got):>3} rows {ms:8.2f} ms  "
                f"(target {TARGET_MS:.0f} ms: {verdict})",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--page", type=int, default=10, help="the deep page's number")
    args = parser.parse_args()
    print(
        f"{args.runs} runs, {args.versions} versions; median of {args.repeat} calls, "
        f"{LIMIT} rows a page",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="maas-bench-listing-") as tmp:
        sqlite_reg = Registry(Path(tmp) / "sqlite")
        start = time.perf_counter()
        fill_sqlite(str(sqlite_reg.home / "registry.db"), runs=args.runs, versions=args.versions)
        print(f"filled SQLite in {time.perf_counter() - start:.1f} s", flush=True)
        measure("sqlite", sqlite_reg, repeat=args.repeat, deep=args.page)
        with postgres() as uri:
            pg_reg = Registry(Path(tmp) / "pg", registry_uri=uri)
            start = time.perf_counter()
            fill_postgres(uri, runs=args.runs, versions=args.versions)
            print(f"filled PostgreSQL in {time.perf_counter() - start:.1f} s", flush=True)
            measure("postgresql", pg_reg, repeat=args.repeat, deep=args.page)


if __name__ == "__main__":
    main()
