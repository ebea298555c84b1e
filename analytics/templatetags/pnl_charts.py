"""{% daily_pnl_chart trades as pnl %}: the realized P&L per New York day of some trades (the trades
page's filtered rows) as {"chart", "toggles"} for templates/charts/series_chart.html."""

from django import template

from analytics import selectors
from analytics.charts import pnl_chart

register = template.Library()


@register.simple_tag
def daily_pnl_chart(trades, element_id: str = "daily-pnl") -> dict:
    days, pnls = selectors.daily_pnl(trades)
    return pnl_chart(element_id, days, pnls, first="daily")
