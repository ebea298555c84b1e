"""Shapes every API router shares: ids, text and the one pagination of lists."""

from typing import Annotated

from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination

from engine.config import Text

__all__ = ["Id", "Pagination", "Text"]

# Larger ids cannot exist (BigAutoField); bounding them keeps the database from ever seeing an overflow.
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class Page(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10**9)


class Pagination(LimitOffsetPagination):
    """limit / offset with the total count; bounded, so no page is huge and no offset overflows the database."""

    Input = Page
