from tests.notebook.conftest import ip  # noqa: F401 - the IPython shell fixture, shared
