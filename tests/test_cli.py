"""The `maas` command, in-process through `main()` and once through the installed script."""

import json
import subprocess
import sys
import sysconfig
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import maas_nb
from maas_nb.cli import main
from maas_nb.registry import Registry


@pytest.fixture
def models(classifier, regressor, iris):
    X, _ = iris
    maas_nb.register(
        classifier, "iris", sample=X[:5], metrics={"accuracy": 0.96}, alias="production"
    )
    maas_nb.register(classifier, "iris", description="second")
    maas_nb.register(regressor, "petal-width")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_models_table(capsys, models):
    code, out, err = run(capsys, "models")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "VERSIONS", "LATEST", "ALIASES", "DESCRIPTION"]
    assert lines[1].split() == ["iris", "2", "2", "production->1"]
    assert lines[2].split() == ["petal-width", "1", "1"]


def test_models_json(capsys, models):
    _, out, _ = run(capsys, "models", "--json")
    data = json.loads(out)
    assert [m["name"] for m in data] == ["iris", "petal-width"]
    assert data[0]["aliases"] == {"production": 1}


def test_global_options_before_the_command(capsys, models, home):
    code, out, _ = run(capsys, "--home", str(home), "--json", "versions", "iris")
    assert code == 0
    assert [v["uri"] for v in json.loads(out)] == ["iris:1", "iris:2"]


def test_versions_table(capsys, models):
    _, out, _ = run(capsys, "versions", "iris")
    lines = out.splitlines()
    headers = ["VERSION", "FLAVOR", "ALIASES", "SIZE", "METRICS", "BY", "CREATED"]
    assert lines[0].split() == headers
    assert lines[1].split()[:3] == ["1", "sklearn", "production"]
    assert "accuracy=0.96" in lines[1]
    assert (
        lines[1][lines[0].index("BY") :].split()[0] == maas_nb.registry().get("iris:1").created_by
    )


def test_show(capsys, models):
    code, out, _ = run(capsys, "show", "iris@production")
    assert code == 0
    fields = dict(
        line.split(None, 1)
        for line in out.splitlines()
        if not line.startswith(("metric", "param", "tag", "lineage"))
    )
    assert fields["uri"].strip() == "iris:1"
    assert fields["aliases"].strip() == "production"
    assert "(input: float64[N, 4]) -> (predictions: int64[N], probabilities: float64[N, 3])" in out
    assert fields["metrics"].strip() == "accuracy=0.96"
    assert fields["by"].strip() == maas_nb.registry().get("iris:1").created_by != ""
    code, out, _ = run(capsys, "show", "iris:2", "--json")
    assert json.loads(out)["description"] == "second"


def test_alias_unalias_delete(capsys, models):
    assert run(capsys, "alias", "iris:2", "production")[1] == "iris@production -> iris:2\n"
    assert maas_nb.get("iris@production").version == 2
    assert (
        run(capsys, "unalias", "iris", "production")[1] == "Removed iris@production (was iris:2)\n"
    )
    assert run(capsys, "delete", "iris:1")[1] == "Deleted iris:1\n"
    assert [v.version for v in maas_nb.list_versions("iris")] == [2]


def test_delete_whole_model_needs_yes(capsys, models):
    code, out, err = run(capsys, "delete", "iris")
    assert code == 1 and out == ""
    assert err == (
        "maas: error: Refusing to delete model 'iris' and all 2 of its versions without --yes. "
        "To delete one version, name it: maas delete iris:VERSION\n"
    )
    code, out, _ = run(capsys, "delete", "iris", "--yes")
    assert code == 0 and out == "Deleted iris:1\nDeleted iris:2\n"
    assert [m.name for m in maas_nb.list_models()] == ["petal-width"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["show", "nope"],
            "maas: error: No model named 'nope'. Registered models: iris, petal-width.\n",
        ),
        (
            ["show", "iris:7"],
            "maas: error: Model 'iris' has no version 7; its versions are: 1, 2.\n",
        ),
        (["alias", "iris:1", "latest"], "maas: error: Alias 'latest' is reserved"),
        (["versions", "bad name"], "maas: error: Invalid model name 'bad name'"),
        (["unalias", "iris", "staging"], "maas: error: Model 'iris' has no alias 'staging'"),
    ],
)
def test_user_mistakes_print_one_line_and_exit_1(capsys, models, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1 and "Traceback" not in err


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_empty_registry(capsys):
    assert (
        run(capsys, "models")[1]
        == "No models registered. Register one with maas_nb.register(model, 'name') "
        "(in a notebook: %%maas train NAME --register).\n"
    )


def installed_maas_script() -> Path:
    """The ``maas`` console script pip installed beside the running interpreter."""
    entry = [e for e in entry_points(group="console_scripts") if e.name == "maas"]
    assert [e.value for e in entry] == ["maas_nb.cli:main"], (
        f"No 'maas = maas_nb.cli:main' console script is installed (found {entry}). "
        "Install the package: pip install -e '.[dev]'."
    )
    name = "maas.exe" if sys.platform == "win32" else "maas"
    script = Path(sysconfig.get_path("scripts")) / name
    assert script.is_file(), (
        f"The maas script is missing from {script.parent} (the scripts directory of "
        f"{sys.executable}). Install the package: pip install -e '.[dev]'."
    )
    return script


def test_installed_maas_script(models, home):
    script = str(installed_maas_script())
    ok = subprocess.run(
        [script, "--home", str(home), "versions", "iris"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[1].split()[:3] == ["1", "sklearn", "production"]
    bad = subprocess.run(
        [script, "--home", str(home), "show", "iris@nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith("maas: error: Model 'iris' has no alias 'nope'")
    assert "Traceback" not in bad.stderr


def fields_with_prefix(out, key):
    for line in out.splitlines():
        if line.startswith(key + " "):
            return line[len(key) :].strip()
    raise AssertionError(f"{key!r} not in {out!r}")


def serve_refusal(home, *args: str, token: str | None = None) -> str:
    """What ``maas serve`` *args* prints on stderr when it refuses to start (exit 1)."""
    import os

    from tests.helpers import ROOT

    env = {k: v for k, v in os.environ.items() if k != "MAAS_TOKEN"}
    if token is not None:
        env["MAAS_TOKEN"] = token
    result = subprocess.run(
        [sys.executable, "-m", "maas_nb.serving", "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 1, result.stderr
    return result.stderr


@pytest.mark.parametrize(
    ("args", "token", "message"),
    [
        (
            ["--port", "99999"],
            None,
            "--port is 99999; a TCP port is a number from 0 to 65535 (0 picks a free one).",
        ),
        (
            ["--port", "-1"],
            None,
            "--port is -1; a TCP port is a number from 0 to 65535 (0 picks a free one).",
        ),
        (
            ["--port", "0", "--max-body", "-1"],
            None,
            "--max-body is -1; give the largest request body in bytes, a positive number "
            "(the default is 16 MiB).",
        ),
        (
            ["--port", "0", "--max-body", "0"],
            None,
            "--max-body is 0; give the largest request body in bytes, a positive number "
            "(the default is 16 MiB).",
        ),
        (
            ["--port", "0"],
            "a b",
            "$MAAS_TOKEN must hold one token: printable characters without spaces, on one line.",
        ),
    ],
    ids=["port-too-big", "port-negative", "max-body-negative", "max-body-zero", "token-spaces"],
)
def test_serve_refuses_bad_settings_in_one_line(home, args, token, message):
    assert serve_refusal(home, *args, token=token) == f"maas: error: {message}\n"


def test_a_reader_that_closes_the_pipe_early_gets_no_traceback(home):
    """``maas runs | head -0``: the reader is gone before maas writes a line."""
    with subprocess.Popen(
        [str(installed_maas_script()), "--home", str(home), "runs"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        proc.stdout.close()  # maas is still importing: its first write finds no reader
        err = proc.stderr.read()
        code = proc.wait(timeout=60)
    assert err == ""
    assert code == 141


def test_registry_and_artifacts_uris(capsys, classifier, tmp_path, home):
    """``--registry-uri`` and ``--artifacts-uri`` pick the stores of every verb, including
    ``delete``, which reopens the registry by home."""
    db, blobs = tmp_path / "meta.db", tmp_path / "blobs"
    uris = {"registry_uri": f"sqlite:///{db}", "artifacts_uri": blobs.as_uri()}
    elsewhere = Registry(tmp_path / "state", **uris)
    for _ in range(3):
        elsewhere.register(classifier, "iris")
    at = ["--registry-uri", uris["registry_uri"], "--artifacts-uri", uris["artifacts_uri"]]

    code, out, err = run(capsys, *at, "--json", "versions", "iris")
    assert (code, err) == (0, "")
    assert [v["uri"] for v in json.loads(out)] == ["iris:1", "iris:2", "iris:3"]
    assert run(capsys, *at, "alias", "iris:2", "production")[1] == "iris@production -> iris:2\n"
    assert run(capsys, *at, "delete", "iris:3")[1] == "Deleted iris:3\n"

    again = Registry(tmp_path / "state", **uris)
    assert [v.version for v in again.list_versions("iris")] == [1, 2]
    assert again.get("iris@production").version == 2
    assert sorted(p.name for p in home.iterdir()) == []


def test_a_server_deploy_starts_serves_from_the_uris_given(capsys, classifier, tmp_path, home):
    """The server ``maas deploy`` starts opens the stores named on the command line."""
    db, blobs = tmp_path / "meta.db", tmp_path / "blobs"
    at = ["--registry-uri", f"sqlite:///{db}", "--artifacts-uri", blobs.as_uri()]
    Registry(home, registry_uri=f"sqlite:///{db}", artifacts_uri=blobs.as_uri()).register(
        classifier, "iris"
    )
    code, out, err = run(capsys, *at, "--json", "deploy", "iris")
    assert code == 0, err
    assert json.loads(out)["status"] == "ready"
    code, out, err = run(capsys, *at, "--json", "deployments")
    assert [(d["name"], d["status"], d["version"]) for d in json.loads(out)] == [
        ("iris", "ready", 1)
    ]
    assert not (home / "registry.db").exists()
