"""The write modes: how a load's rows reach its target, one strategy per ``LoadRequest.mode``, each running inside
the load's transaction within the frame ``Warehouse.load`` runs (see ``frame.WriteMode``)."""

from collections.abc import Callable
from typing import Any

from pipeline_assets.warehouses.transaction import Tx
from pipeline_assets.warehouses.write_modes.append import Append
from pipeline_assets.warehouses.write_modes.frame import Frame, WriteMode, Written
from pipeline_assets.warehouses.write_modes.full_refresh import FullRefresh
from pipeline_assets.warehouses.write_modes.merge import Merge
from pipeline_assets.warehouses.write_modes.replace import Replace

MODES: dict[str, Callable[[Frame[Any]], WriteMode]] = {
    "append": Append,
    "replace": Replace,
    "merge": Merge,
    "full_refresh": FullRefresh,
}


def write_mode(frame: Frame[Tx]) -> WriteMode:
    """The write mode the frame's request asks for."""
    return MODES[frame.request.mode](frame)


__all__ = ["MODES", "Frame", "WriteMode", "Written", "write_mode"]
