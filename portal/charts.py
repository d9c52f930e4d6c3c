"""Bar charts drawn on the server as inline SVG (``templates/portal/_bar_chart.html``).

No JavaScript and no style attributes: the site's CSP forbids inline styles, so
the geometry goes into SVG attributes (whole numbers, safe in every locale) and
the colours into classes of ``static/portal/css/portal.css``.
"""

from dataclasses import dataclass

from django.utils.text import Truncator
from django.utils.translation import gettext as _

from .overview import Overview

ROW = 28  # height of one bar's row
BAR = 18  # thickness of a bar
PAD = 6  # space above the first and below the last row
VALUE_ROOM = 44  # room right of the longest bar for its value
LABEL_GAP = 8  # space between a label and the start of its bar
LABEL_CHARS = 18  # longer labels are cut with an ellipsis (the table has them whole)


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: int  # top of the bar
    length: int
    text_y: int  # baseline of the label and the value
    value_x: int


@dataclass(frozen=True)
class BarChart:
    id: str  # unique on the page; prefixes the ids of the SVG's title and description
    title: str
    description: str  # every figure in words, read by screen readers
    css: str  # a modifier class choosing the colour
    width: int
    height: int
    label_x: int  # right edge of the labels
    bar_x: int  # where bars start
    bar_height: int
    bars: list[Bar]


def bar_chart(
    *,
    id: str,
    title: str,
    items: list[tuple[str, int]],
    css: str = "",
    width: int = 340,
    label_width: int = 48,
) -> BarChart:
    """A horizontal bar chart of ``(label, value)`` pairs, in the given order."""
    bar_x = label_width + LABEL_GAP
    room = width - bar_x - VALUE_ROOM
    top = max((value for _label, value in items), default=0)
    bars = []
    for index, (label, value) in enumerate(items):
        y = PAD + index * ROW + (ROW - BAR) // 2
        length = round(room * value / top) if top else 0
        bars.append(
            Bar(
                label=Truncator(label).chars(LABEL_CHARS),
                value=value,
                y=y,
                length=length,
                text_y=y + BAR - 4,
                value_x=bar_x + length + 6,
            )
        )
    description = "; ".join(f"{label}: {value}" for label, value in items)
    return BarChart(
        id=id,
        title=title,
        description=description,
        css=css,
        width=width,
        height=2 * PAD + len(items) * ROW,
        label_x=label_width,
        bar_x=bar_x,
        bar_height=BAR,
        bars=bars,
    )


def overview_charts(overview: Overview) -> dict[str, list[BarChart]]:
    """The charts of the yearly overview page: three per year, one per country."""
    years = overview.years

    def per_year(attribute: str) -> list[tuple[str, int]]:
        return [(str(row.year), getattr(row, attribute)) for row in years]

    return {
        "years": [
            bar_chart(
                id="chart-groups",
                title=_("Groups active per year"),
                items=per_year("groups_active"),
                css="chart-groups",
            ),
            bar_chart(
                id="chart-meetings",
                title=_("Meetings held per year"),
                items=per_year("meetings_held"),
                css="chart-meetings",
            ),
            bar_chart(
                id="chart-members",
                title=_("Active members per year"),
                items=per_year("active_members"),
                css="chart-members",
            ),
        ],
        "countries": [
            bar_chart(
                id="chart-countries",
                title=_("Members per country today"),
                items=[(c.name, c.members) for c in overview.countries],
                css="chart-countries",
                label_width=130,
            )
        ],
    }
