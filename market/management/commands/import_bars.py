from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from engine.market_time import TIMEFRAMES
from market.csv_import import import_bars_csv


class Command(BaseCommand):
    help = "Import OHLCV bars for SYMBOL from a CSV file (Date, Open, High, Low, Close, Volume); re-imports update."

    def add_arguments(self, parser):
        parser.add_argument("symbol")
        parser.add_argument("file", type=Path)
        parser.add_argument("--timeframe", default="1Day", choices=list(TIMEFRAMES))

    def handle(self, *args, symbol: str, file: Path, timeframe: str, **options):
        try:
            result = import_bars_csv(symbol, file, timeframe)
        except OSError as error:
            raise CommandError(f"cannot read {file}: {error.strerror or error}") from None
        except ValueError as error:
            raise CommandError(f"nothing imported from {file}:\n{error}") from None
        self.stdout.write(
            f"{symbol.strip().upper()} {timeframe}: {result.created + result.updated} bars imported "
            f"({result.created} created, {result.updated} updated)"
        )
