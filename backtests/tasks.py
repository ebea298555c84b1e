"""The backtest job."""

from celery import shared_task


@shared_task(name="backtests.run_backtest", ignore_result=True)
def run_backtest(backtest_id: int) -> None:
    # Imported here: the service queues this task, and the task runs the service (Celery's usual loop).
    from backtests.services import backtest_run

    backtest_run(backtest_id=backtest_id)


@shared_task(name="backtests.sweep_stale", ignore_result=True)
def sweep_stale() -> None:
    from backtests.services import backtests_sweep_stale

    backtests_sweep_stale()
