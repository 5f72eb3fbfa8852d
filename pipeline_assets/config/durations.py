"""Durations as users write them: ``30m``, ``24h``, ``7d``."""

import re
from datetime import timedelta

from pipeline_assets.core.errors import PipelineError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str, option: str = "duration") -> timedelta:
    """``7d`` → 7 days; anything else raises a one-line error naming ``option``."""
    match = _DURATION.match(str(text).strip())
    if not match:
        raise PipelineError(f"{option} {text}: expected a number and a unit, like 30m, 24h or 7d")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
