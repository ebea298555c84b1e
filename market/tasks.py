"""Celery tasks of the market: thin wrappers around one service each."""

from celery import shared_task

from market.status import market_status_publish


@shared_task(name="market.market_status", ignore_result=True)
def market_status() -> None:
    market_status_publish()
