from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Project-wide commands (serve, ensure_admin, seed_demo, benchmark) and the benchmarks: the top
    of the project, which may use every app and which no app imports."""

    name = "ops"
