"""``maas versions``, ``training-runs``, ``runs`` and ``deployments`` filtered by who made the
records (``--mine``, ``--user U``) and by a metric, a page at a time (``--limit``, ``--after``),
with the command for the next page printed under a page that has more."""

import json

import pytest

import maas_nb
from maas_nb.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def made(classifier, monkeypatch):
    """iris:1..4 by ada, grace, ada, ada; a training run each; and 'grace' as the user."""
    reg = maas_nb.registry()
    for user, accuracy in [("ada", 0.9), ("grace", 0.95), ("ada", 0.97), ("ada", 0.5)]:
        monkeypatch.setenv("MAAS_USER", user)
        reg.register(classifier, "iris", metrics={"accuracy": accuracy})
        reg.end_run(reg.start_run("fit").id, metrics={"accuracy": accuracy})
    monkeypatch.setenv("MAAS_USER", "grace")


def column(out, name):
    """The values of column *name* in a table printed by maas."""
    lines = out.splitlines()
    at = lines[0].index(name)
    return [line[at:].split()[0] for line in lines[1:] if line[:1].isalnum() and "page" not in line]


def test_versions_by_user_mine_and_metric(capsys, made):
    _, out, _ = run(capsys, "versions", "iris")
    assert column(out, "BY") == ["ada", "grace", "ada", "ada"]
    _, out, _ = run(capsys, "versions", "iris", "--user", "ada")
    assert column(out, "VERSION") == ["1", "3", "4"]
    _, out, _ = run(capsys, "versions", "iris", "--mine")
    assert column(out, "VERSION") == ["2"]
    _, out, _ = run(capsys, "versions", "iris", "--user", "ada", "--metric", "accuracy>=0.9")
    assert column(out, "VERSION") == ["1", "3"]
    code, out, _ = run(capsys, "versions", "iris", "--user", "bob")
    assert (code, out) == (0, "Model 'iris' has no versions made by bob.\n")


def test_training_runs_by_user_and_metric(capsys, made):
    _, out, _ = run(capsys, "training-runs", "--user", "ada", "--metric", "accuracy<0.95")
    assert column(out, "METRICS") == ["accuracy=0.9", "accuracy=0.5"]
    assert column(out, "BY") == ["ada", "ada"]
    code, out, _ = run(capsys, "training-runs", "fit", "--mine", "--metric", "accuracy>0.99")
    assert (code, out) == (0, "No training runs made by grace with accuracy>0.99.\n")


def test_pages_follow_the_printed_command_to_the_end(capsys, made):
    code, out, _ = run(capsys, "versions", "iris", "--user", "ada", "--limit", "2")
    *table, more = out.splitlines()
    assert code == 0 and column("\n".join(table), "VERSION") == ["1", "3"]
    prefix = "More than 2 rows; the next page: maas versions iris --user ada --limit 2 --after "
    assert more.startswith(prefix)
    cursor = more.removeprefix(prefix)
    _, out, _ = run(capsys, "versions", "iris", "--user", "ada", "--limit", "2", "--after", cursor)
    assert column(out, "VERSION") == ["4"] and "More" not in out
    # The metric is quoted for the shell; JSON keeps its shape and the hint goes to stderr.
    _, out, err = run(capsys, "training-runs", "--metric", "accuracy>0.6", "--limit", "1", "--json")
    assert [r["metrics"] for r in json.loads(out)] == [{"accuracy": 0.9}]
    assert err.startswith(
        "maas: note: More than 1 rows; the next page: maas training-runs "
        "--metric 'accuracy>0.6' --limit 1 --after "
    )


def test_the_default_page_holds_fifty(capsys, made):
    reg = maas_nb.registry()
    for _ in range(51):
        reg.start_run("many")
    _, out, _ = run(capsys, "training-runs", "many")
    lines = out.splitlines()
    assert len(lines) == 52  # the header, 50 runs, the command for the next page
    assert lines[-1].startswith("More than 50 rows; the next page: maas training-runs many --after")
    _, out, _ = run(capsys, "training-runs", "many", "--after", lines[-1].rsplit(" ", 1)[1])
    assert len(out.splitlines()) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["versions", "iris", "--metric", "accuracy~0.9"],
            "maas: error: A metric filter is NAME OP NUMBER with OP one of >= <= > < =, got "
            "'accuracy~0.9'. Write it like 'accuracy>0.9' (metric='accuracy>0.9' in Python; "
            "--metric 'accuracy>0.9' in maas and %maas).\n",
        ),
        (
            ["training-runs", "--limit", "0"],
            "maas: error: A page holds 1 to 10000 rows, got limit=0. Pass a whole number in "
            "that range (--limit N in maas and %maas), or no limit for every row.\n",
        ),
        (
            ["runs", "--after", "nonsense"],
            "maas: error: The cursor 'nonsense' does not come from this listing (pipeline_runs "
            "with these filters and this order). Pass the cursor the page before printed "
            "(next=, or --after in maas and %maas) with the same filters, or leave it out to "
            "start at the first page.\n",
        ),
    ],
)
def test_bad_filters_say_what_to_write(capsys, made, argv, message):
    assert run(capsys, *argv) == (1, "", message)


def test_mine_and_user_together_are_refused(capsys, made):
    with pytest.raises(SystemExit) as info:
        main(["versions", "iris", "--mine", "--user", "ada"])
    assert info.value.code == 2
    assert "argument --user: not allowed with argument --mine" in capsys.readouterr().err
