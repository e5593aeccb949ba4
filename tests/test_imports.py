"""`import maas_nb` stays light, and a missing extra names the pip command."""

import subprocess
import sys
import textwrap

import pytest

HEAVY = ["numpy", "pandas", "sklearn", "skops", "tensorflow", "keras", "IPython", "papermill"]


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_import_maas_nb_imports_no_heavy_library():
    result = run_python(
        f"""
        import sys
        import maas_nb
        print(sorted(m for m in {HEAVY!r} if m in sys.modules))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_missing_keras_names_the_extra_to_install(home):
    result = run_python(
        """
        import sys
        sys.modules["keras"] = None  # as if the tensorflow extra were not installed
        from maas_nb.exceptions import MissingDependencyError
        from maas_nb.flavors import get
        try:
            get("keras").load(b"", uri="m:1", trusted=(), allow_pickle=False)
        except MissingDependencyError as exc:
            assert isinstance(exc, ImportError)
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'maas_nb[tensorflow]'" in result.stdout


@pytest.mark.parametrize("flavor", ["sklearn", "keras", "lightgbm", "pickle"])
def test_builtin_flavors_are_registered(flavor):
    from maas_nb import flavors

    assert flavors.get(flavor).name == flavor


def test_unknown_flavor_lists_the_known_ones():
    from maas_nb import flavors
    from maas_nb.exceptions import UnsupportedModelError

    with pytest.raises(
        UnsupportedModelError,
        match=r"Unknown flavor 'onnx'; known flavors: keras, lightgbm, pickle, sklearn",
    ):
        flavors.get("onnx")


def test_registry_imports_nothing_from_serving_notebook_or_pipelines():
    result = run_python(
        """
        import sys
        import maas_nb.registry
        print(sorted(m for m in sys.modules if m.startswith(("maas_nb.serving", "maas_nb.deploying", "maas_nb.notebook", "maas_nb.pipelines"))))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_traffic_client_imports_none_of_the_servers_guard_modules():
    """`maas traffic --guard-*` checks a guard with `maas_nb.registry.guards`, the module the
    server's guard reads too: the deploy client loads no server module for it."""
    result = run_python(
        """
        import sys
        import maas_nb.deploying.splits
        import maas_nb.commands.traffic_verbs
        server = ("watch", "window", "split", "loaded", "pool", "experiment")
        print(sorted(m for m in sys.modules if m.rpartition(".")[2] in server))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
