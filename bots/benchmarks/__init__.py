"""The modes of `manage.py benchmark MODE`, one module each.

A mode module has HELP (one line), add_arguments(parser) for its own options, and
run(options, write) which measures and reports through write(line). Add a mode by writing its
module and listing it in MODES.
"""

from importlib import import_module
from types import ModuleType

MODES = {
    "backtest": "bots.benchmarks.backtest",
}


def modes() -> dict[str, ModuleType]:
    return {name: import_module(path) for name, path in MODES.items()}
