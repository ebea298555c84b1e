import pytest
from django.utils import timezone

from positions.services import position_close
from tests.factories import PositionFactory
from tradebot.errors import Conflict
from trades.models import Trade

pytestmark = pytest.mark.django_db


def test_closing_a_closed_position_is_a_conflict():
    position = PositionFactory(is_open=False, closed_at=timezone.now())
    with pytest.raises(Conflict, match="already closed"):
        position_close(position=position)
    assert not Trade.objects.exists()


def test_a_position_whose_bot_is_gone_cannot_be_closed_through_it():
    position = PositionFactory()
    position.bot = None
    with pytest.raises(Conflict, match="bot no longer exists"):
        position_close(position=position)
    assert not Trade.objects.exists()
