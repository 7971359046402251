"""Import pandera's polars API without pandas.

When pandas is installed (the dev and bench extras install it), ``import pandera``
imports it, and numpy's and pandera's pandas API with it, for nothing: every table here
is a polars model. That costs 0.45-0.9 s of every run's start-up, more than a whole
single-statement run's own work. pandera supports polars-only installs (pandas absent);
hiding pandas while pandera initialises (and while it answers, once, whether pandas-like
backends exist, which it would otherwise ask at the first validation) selects exactly that
path. pandas stays importable afterwards for whoever needs it.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType


class _HidePandas:
    def find_spec(self, name: str, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            # pandera ignores exactly this error: "No module named 'pandas'"
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def import_pandera_polars() -> ModuleType:
    if "pandera" in sys.modules or "pandas" in sys.modules:
        return importlib.import_module("pandera.polars")
    hider = _HidePandas()
    sys.meta_path.insert(0, hider)
    try:
        module = importlib.import_module("pandera.polars")
        # The first validation asks once (cached) whether pandas-like backends exist,
        # importing pandas to find out: answer it now, as a pandas-free install would.
        register_checks = importlib.import_module("pandera.backends.register_checks")
        getattr(register_checks, "_load_get_backend_types_from_mro", lambda: None)()
        return module
    finally:
        sys.meta_path.remove(hider)


pa = import_pandera_polars()
