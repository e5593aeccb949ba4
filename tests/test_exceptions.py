import inspect
import pickle

import pytest

from maas_nb import exceptions

ERRORS = [
    obj
    for obj in vars(exceptions).values()
    if inspect.isclass(obj) and issubclass(obj, exceptions.MaasError)
]


def test_all_lists_every_error():
    assert sorted(exceptions.__all__) == sorted(e.__name__ for e in ERRORS)
    assert exceptions.__all__ == sorted(exceptions.__all__)


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__name__)
def test_every_error_survives_a_pickle_round_trip(cls):
    error = cls("model 'iris' has no version 9")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert str(copy) == "model 'iris' has no version 9"
    assert copy.message == error.message


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (exceptions.ModelNotFoundError, LookupError),
        (exceptions.VersionNotFoundError, LookupError),
        (exceptions.AliasNotFoundError, LookupError),
        (exceptions.InvalidNameError, ValueError),
        (exceptions.SignatureError, ValueError),
        (exceptions.ModelNotFittedError, ValueError),
        (exceptions.MissingDependencyError, ImportError),
        (exceptions.UnsupportedModelError, TypeError),
        (exceptions.ArtifactMissingError, FileNotFoundError),
        (exceptions.RegistryUnavailableError, OSError),
        (exceptions.ArtifactStoreUnavailableError, OSError),
    ],
)
def test_errors_are_also_the_builtin_a_caller_would_catch(cls, builtin):
    assert issubclass(cls, builtin)
    assert issubclass(cls, exceptions.MaasError)


def test_render_traceback_is_one_line_for_ipython():
    error = exceptions.ModelNotFoundError("No model named 'iris'.")
    assert error._render_traceback_() == ["ModelNotFoundError: No model named 'iris'."]
