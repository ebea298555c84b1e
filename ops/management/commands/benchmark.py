from django.core.management.base import BaseCommand

from ops.benchmarks import modes, summary


class Command(BaseCommand):
    help = "Measure how fast parts of Tradebot run: manage.py benchmark MODE [options] (modes in ops/benchmarks/)."

    def add_arguments(self, parser):
        subcommands = parser.add_subparsers(dest="mode", required=True, metavar="MODE")
        for name, mode in modes().items():
            mode.add_arguments(subcommands.add_parser(name, help=summary(mode), description=mode.__doc__))

    def handle(self, *args, mode: str, **options):
        modes()[mode].run(self.stdout, **options)
