"""Which of TensorFlow's start-up lines the Keras import keeps out of stderr."""

from __future__ import annotations

import pytest

from maas_nb.flavors.keras_import import shown

PREAMBLE = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
)
INFO = "I0000 00:00:1795995738.447296   24851 port.cc:153] oneDNN custom operations are on.\n"
GUARD = (
    "I0000 00:00:1795995738.505158   24851 cpu_feature_guard.cc:227] This TensorFlow binary\n"
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild.\n"
)
WARNING = "W0000 00:00:1795995738.1   24851 cuda_executor.cc:1] could not find cuda drivers\n"
ERROR = "E0000 00:00:1795995738.2   24851 op_kernel.cc:1] something really failed\n"
OTHER = "a line some other library printed\n"


@pytest.mark.parametrize(
    ("level", "kept"),
    [
        (2, ERROR + OTHER),
        (1, PREAMBLE + WARNING + ERROR + OTHER),  # the preamble is a warning too
        (0, PREAMBLE + INFO + GUARD + WARNING + ERROR + OTHER),
        (3, OTHER),
    ],
)
def test_lines_below_the_log_level_are_dropped_and_anything_else_kept(level, kept):
    assert shown(PREAMBLE + INFO + GUARD + WARNING + ERROR + OTHER, level) == kept
