"""Import pandera's polars API without pandas.

When pandas is installed (the dev and bench extras install it), ``import pandera``
imports it, and numpy's and pandera's pandas API with it, for nothing: every table here
is a polars model. That costs 0.45-0.9 s of every run's start-up, more than a whole
single-statement run's own work. pandera supports polars-only installs (pandas absent);
hiding pandas while pandera's package initialises selects exactly that path. pandas stays
importable afterwards for whoever needs it.
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
        return importlib.import_module("pandera.polars")
    finally:
        sys.meta_path.remove(hider)


pa = import_pandera_polars()
