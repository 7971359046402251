"""Import pandera's polars API without pandas and hypothesis.

When pandas and hypothesis are installed (the dev and bench extras install them),
pandera imports pandas (with numpy and its pandas API) as its package initialises, and
hypothesis (for its data-synthesis strategies) with its polars checks, for nothing here:
every table is a polars model and runs never synthesise data. That costs 0.5-1 s of every
run's start-up, more than a whole single-statement run's own work. pandera supports
installs without either; hiding both while pandera initialises its polars backend (and
while it answers, once, whether pandas-like backends exist, which it would otherwise ask
at the first validation) selects exactly that path. Both stay importable afterwards for
whoever needs them.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

_HIDDEN = ("pandas", "hypothesis")


class _Hide:
    def find_spec(self, name: str, path=None, target=None):
        if name.split(".", 1)[0] in _HIDDEN:
            # pandera ignores exactly this error ("No module named ...")
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def import_pandera_polars() -> ModuleType:
    if "pandera" in sys.modules or any(name in sys.modules for name in _HIDDEN):
        return importlib.import_module("pandera.polars")
    hider = _Hide()
    sys.meta_path.insert(0, hider)
    try:
        module = importlib.import_module("pandera.polars")
        importlib.import_module("pandera.backends.polars.builtin_checks")
        register_checks = importlib.import_module("pandera.backends.register_checks")
        getattr(register_checks, "_load_get_backend_types_from_mro", lambda: None)()
        return module
    finally:
        sys.meta_path.remove(hider)


pa = import_pandera_polars()
