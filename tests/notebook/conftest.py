"""An IPython shell whose run_cell re-raises errors (jupysql's TestingShell), with maas loaded."""

import pytest
from IPython.core.interactiveshell import InteractiveShell


class TestingShell(InteractiveShell):
    def run_cell(self, raw_cell, *args, **kwargs):
        result = super().run_cell(raw_cell, *args, **kwargs)
        result.raise_error()
        return result


@pytest.fixture
def ip(home, iris):
    shell = TestingShell.instance()
    shell.run_cell("%load_ext maas_nb")
    X, y = iris
    shell.user_ns.update(
        {
            "X_train": X[::2],
            "y_train": y[::2],
            "X_test": X[1::2],
            "y_test": y[1::2],
            "uri": "iris@production",
        }
    )
    yield shell
    shell.run_line_magic("config", "MaasMagics.feedback = 1")
    TestingShell.clear_instance()


def out(shell, line):
    """The value of a line magic, as its plain text (what nbval compares)."""
    return repr(shell.run_line_magic("maas", line))
