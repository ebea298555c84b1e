"""The modes of `manage.py benchmark MODE`, one module each.

A mode module has add_arguments(parser) for its own options and run(out, **options), which measures
and reports through out.write(line); the first line of its docstring is its help. Add a mode by
writing its module and listing it in MODES.
"""

from importlib import import_module
from types import ModuleType

MODES = {
    "analytics": "ops.benchmarks.analytics",
    "api": "ops.benchmarks.api",
    "backtest": "ops.benchmarks.backtest",
    "crosscheck": "ops.benchmarks.crosscheck",
    "csv": "ops.benchmarks.csv_backtest",
    "memory": "ops.benchmarks.memory",
    "simulated": "ops.benchmarks.simulated",
    "stream": "ops.benchmarks.stream",
    "ticks": "ops.benchmarks.ticks",
}


def modes() -> dict[str, ModuleType]:
    return {name: import_module(path) for name, path in MODES.items()}


def summary(mode: ModuleType) -> str:
    return (mode.__doc__ or "").strip().splitlines()[0]
