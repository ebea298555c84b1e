"""The CSV download of filtered trades, shared by the API (/api/trades/export) and the trades page."""

from asgiref.sync import sync_to_async
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from trades import selectors
from trades.models import Trade


def csv_response(trades: QuerySet[Trade]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_async_chunks(selectors.trade_csv(trades)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="trades-{timezone.now():%Y%m%d-%H%M%S}.csv"'
    return response


async def _async_chunks(chunks):
    """Under ASGI (daphne) Django reads a *synchronous* streaming body into one list before sending it;
    an asynchronous one streams. Each chunk is read in the request's sync thread (thread_sensitive),
    where the database cursor lives."""
    next_chunk = sync_to_async(next, thread_sensitive=True)
    while (chunk := await next_chunk(chunks, None)) is not None:
        yield chunk
