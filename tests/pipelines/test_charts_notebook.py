"""An executed papermill notebook keeps its charts: the SVG stays in the HTML output of the
training, ``%maas show`` and ``%maas compare`` cells, and out of their text."""

import re

import nbformat
import papermill
import pytest

CELLS = [
    "%load_ext maas_nb\n"
    "import maas_nb\n"
    "from sklearn.datasets import load_iris\n"
    "X, y = load_iris(return_X_y=True)",
    *(
        f"%%maas train iris --register --eval X y\n"
        f"from sklearn.linear_model import LogisticRegression\n"
        f"for step in range(5):\n"
        f"    maas_nb.log(step=step, loss=1 / (step + 1))\n"
        f"model = LogisticRegression(C={C}, max_iter=1000).fit(X, y)"
        for C in (0.01, 1.0)
    ),
    "%maas show iris:2",
    "%maas compare iris:1 iris:2",
]


def outputs(cell):
    """The (HTML, text) of *cell*'s result, as the executed notebook keeps them."""
    (result,) = [o for o in cell.outputs if o.output_type == "execute_result"]
    return result.data["text/html"], result.data["text/plain"]


@pytest.mark.slow
def test_an_executed_notebook_keeps_an_svg_in_the_show_and_compare_outputs(tmp_path, home):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    source, out = tmp_path / "charts.ipynb", tmp_path / "charts.out.ipynb"
    nbformat.write(nb, source)
    papermill.execute_notebook(
        str(source), str(out), kernel_name="python3", progress_bar=False, cwd=str(tmp_path)
    )
    executed = nbformat.read(out, as_version=4)
    *trained, shown, compared = executed.cells[1:]
    for cell in [*trained, shown]:
        page, text = outputs(cell)
        assert re.findall(r'<g id="(maas-series-[^"]+)">', page) == ["maas-series-step-loss"]
        assert "<svg" not in text
    page, text = outputs(compared)
    assert len(re.findall(r'<g id="maas-bar-iris:[12]-(?:accuracy|f1)">', page)) == 4
    assert text.splitlines()[0].split() == ["version", "accuracy", "f1"]
    assert "<svg" not in text
