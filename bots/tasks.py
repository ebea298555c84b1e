"""Celery tasks: thin wrappers that take ids and call one service."""

from celery import shared_task

from bots import maintenance, reconciliation
from bots.ticks import bot_tick


@shared_task(name="bots.tick", ignore_result=True, acks_late=True)
def tick(bot_id: int) -> None:
    bot_tick(bot_id=bot_id)


@shared_task(name="bots.mark_to_market", ignore_result=True)
def mark_to_market() -> None:
    maintenance.positions_mark_to_market()


@shared_task(name="bots.settle_pending_orders", ignore_result=True)
def settle_pending_orders() -> None:
    maintenance.pending_orders_settle()
    maintenance.broker_stops_settle()


@shared_task(name="bots.daily_reset", ignore_result=True)
def daily_reset() -> None:
    maintenance.bots_daily_reset()


@shared_task(name="bots.prune_tick_logs", ignore_result=True)
def prune_tick_logs() -> None:
    maintenance.tick_logs_prune()


@shared_task(name="bots.reconcile", ignore_result=True)
def reconcile() -> None:
    reconciliation.accounts_reconcile()
