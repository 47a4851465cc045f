"""Colours shared by every chart of the dashboard.

Mid-tones (around Tailwind 500) that read on Streamlit's light and dark backgrounds; failures are
always red, the rest neutral slate or blue.
"""

from __future__ import annotations

FAILURE_COLOUR = "#ef4444"
NEUTRAL_COLOUR = "#7f8ea3"
OK_COLOUR = "#3b82f6"
NOW_COLOUR = "#d97706"
SOON_COLOUR = "#f97316"

# Width follows the container, height is each chart's own. Streamlit's default ("fit") squeezes
# the axes and legend into the given height and would shrink the plots to slivers.
AUTOSIZE = {"type": "fit-x", "contains": "padding"}
