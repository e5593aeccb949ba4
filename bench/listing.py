"""Listing benchmark: a page of runs or versions out of 100,000 runs and 10,000 versions.

    PYTHONPATH=. python bench/listing.py [--runs N] [--versions N] [--repeat N] [--page N]

Starts a PostgreSQL server of its own (Debian's ``postgresql`` package, as the tests do, in
a temporary directory; stopped at the end), fills it and a SQLite registry with the same
rows by bulk SQL (COPY; executemany), then times through the `Registry` API the median of
*repeat* calls of the first page and of a deep page (after *page - 1* pages, each fetched
for real to get its cursor), filtered by model, by user and by metric, against the issue's
target of 100 ms. MLflow users report minutes for 30,000 runs (mlflow#2730).

Then the same pages the way people ask for them: the CLI in-process (``maas_nb.cli.execute``
with the registry URI, and the table it prints, as ``maas`` does; a new `Registry` each call,
as each ``maas`` command opens one), and the panel's data path (what the Runs and Models
tabs fetch for a page: the newest pipeline runs with the versions each registered, the
newest versions of every model). Each pipeline run made one version, so the REGISTERED
column of ``maas runs`` and the Runs tab has one URI a row.
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


def cli_cases() -> list[tuple[str, list[str]]]:
    """The ``maas`` command lines timed (the stores' options are added to each)."""
    return [
        ("maas runs --limit 50", ["runs", "--limit", "50"]),
        ("maas runs --user user-03 --limit 50", ["runs", "--user", "user-03", "--limit", "50"]),
        ("maas versions model-03 --limit 50", ["versions", "model-03", "--limit", "50"]),
        (
            "maas versions model-03 --user user-03",
            ["versions", "model-03", "--user", "user-03", "--limit", "50"],
        ),
        (
            "maas versions model-03 --metric accuracy>0.9",
            ["versions", "model-03", "--metric", "accuracy>0.9", "--limit", "50"],
        ),
        ("maas training-runs --limit 50", ["training-runs", "--limit", "50"]),
        (
            "maas training-runs model-07 --metric accuracy>0.9",
            ["training-runs", "model-07", "--metric", "accuracy>0.9", "--limit", "50"],
        ),
        (
            "maas training-runs --user user-03",
            ["training-runs", "--user", "user-03", "--limit", "50"],
        ),
    ]


def measure_front_ends(store: str, reg: Registry, *, repeat: int) -> None:
    from maas_nb.cli import execute
    from maas_nb.commands.render import as_text

    given = ["--home", str(reg.home), "--registry-uri", reg.registry_uri]

    def cli(argv: list[str]) -> int:
        result = execute([*argv, *given])[1]
        assert result is not None and result.error is None, result
        as_text(result.view, detail=True, upper=True)  # the table maas prints
        return len(result.data)

    def runs_tab() -> int:
        page = reg.list_pipeline_runs(newest_first=True, limit=LIMIT)
        made = reg.versions_made_by(r.id for r in page)
        assert len(made) == len(page)
        return len(page)

    def models_tab() -> int:
        return len(reg.list_all_versions(newest_first=True, limit=LIMIT))

    rows: list[tuple[str, Callable[[], int]]] = [
        (what, functools.partial(cli, argv)) for what, argv in cli_cases()
    ]
    rows += [
        ("panel Runs tab page (+ REGISTERED)", runs_tab),
        ("panel Models tab page", models_tab),
    ]
    for what, call in rows:
        got = call()
        ms = median_ms(call, repeat)
        verdict = "met" if ms < TARGET_MS else "NOT met"
        print(
            f"{store:<10} {what:<50} {got:>3} rows {ms:8.2f} ms  "
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
        fill_sqlite(
            str(sqlite_reg.home / "registry.db"),
            runs=args.runs,
            versions=args.versions,
            pipeline_runs=args.versions,
        )
        print(f"filled SQLite in {time.perf_counter() - start:.1f} s", flush=True)
        measure("sqlite", sqlite_reg, repeat=args.repeat, deep=args.page)
        measure_front_ends("sqlite", sqlite_reg, repeat=args.repeat)
        with postgres() as uri:
            pg_reg = Registry(Path(tmp) / "pg", registry_uri=uri)
            start = time.perf_counter()
            fill_postgres(uri, runs=args.runs, versions=args.versions, pipeline_runs=args.versions)
            print(f"filled PostgreSQL in {time.perf_counter() - start:.1f} s", flush=True)
            measure("postgresql", pg_reg, repeat=args.repeat, deep=args.page)
            measure_front_ends("postgresql", pg_reg, repeat=args.repeat)


if __name__ == "__main__":
    main()
