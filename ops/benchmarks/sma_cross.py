"""The SMA crossover in backtesting.py, as the cross-check and the CSV benchmark run it; run as a script, a
whole backtesting.py run over a CSV file as its users write one (`python -m ops.benchmarks.sma_cross FILE`).

It imports only pandas, and backtesting.py when a backtest is made (a development dependency: `manage.py
benchmark` loads this module for its other modes too), so the script's process pays for nothing of ours.
"""

import json
import sys

import pandas as pd

CAPITAL = 10_000
FAST, SLOW = 10, 20
# The margin that lets backtesting.py fill an order whose open gapped above the cash, as ours does.
ALIGNED_MARGIN = 0.5


def sma(values, period):
    return pd.Series(values).rolling(period).mean()


def sma_cross(*, our_sizing: bool):
    """Long-only, one position: buy when SMA(FAST) crosses above SMA(SLOW), sell when it crosses below.
    Our sizing buys whole shares of min(capital, cash) at the decision bar's close, as our risk manager
    does with max_position_size 1; otherwise `self.buy()`, all the equity, as its documentation's example."""
    from backtesting import Strategy
    from backtesting.lib import crossover

    class SmaCross(Strategy):
        def init(self):
            self.fast = self.I(sma, self.data.Close, FAST)
            self.slow = self.I(sma, self.data.Close, SLOW)

        def next(self):
            if crossover(self.fast, self.slow) and not self.position:
                if our_sizing:  # flat, the cash left is the equity
                    self.buy(size=int(min(CAPITAL, self.equity) // self.data.Close[-1]))
                else:
                    self.buy()
            elif crossover(self.slow, self.fast) and self.position:
                self.position.close()

    return SmaCross


def backtest(data: pd.DataFrame, *, our_sizing: bool, margin: float = 1.0):
    from backtesting import Backtest

    strategy = sma_cross(our_sizing=our_sizing)
    return Backtest(data, strategy, cash=CAPITAL, commission=0, spread=0, margin=margin, finalize_trades=False)


def main(path: str) -> None:
    data = pd.read_csv(path, index_col=0, parse_dates=True)
    stats = backtest(data, our_sizing=True, margin=ALIGNED_MARGIN).run()
    print(json.dumps({"trades": int(stats["# Trades"]), "final_equity": float(stats["Equity Final [$]"])}))


if __name__ == "__main__":
    main(sys.argv[1])
