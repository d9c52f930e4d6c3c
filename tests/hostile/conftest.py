"""Hypothesis profiles of the hostile-input tests.

``default``: few examples, derandomized (the same examples every run, as the
suite must be deterministic), no example database. ``thorough``
(``HYPOTHESIS_PROFILE=thorough``): many more random examples per test, for a
developer hunting bugs before a release; see docs/security.md.
"""

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps caches (Unicode tables, constants) in a directory of its own: under
# the system's temporary directory, not in the checkout.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "hypothesis-portal")

_COMMON = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    "print_blob": True,
}
settings.register_profile("default", derandomize=True, **_COMMON)
settings.register_profile("thorough", derandomize=False, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
