"""Label codes of injected faults, shared by every occupancy simulation (the DQM store contract).

``labels/map_class`` and ``labels/channels`` index :data:`FAULT_CLASSES`;
``labels/fault_shape`` indexes :data:`FAULT_SHAPES`.  The HCAL sample uses the shapes
1x1, 5x5, rbx and depth; the ECAL barrel sample 1x1 (one crystal), tower (a 5 × 5 trigger
tower) and supermodule.  New shapes are appended so stored codes keep their meaning.
"""

from __future__ import annotations

__all__ = ["ECAL_SHAPES", "FAULT_CLASSES", "FAULT_SHAPES", "HCAL_SHAPES"]

#: Map and channel classes; the index is the stored label (0 = good / ok).
FAULT_CLASSES = ("good", "dead", "hot", "noisy", "partial")
#: Region shapes; the index is the stored label (0 = no fault).
FAULT_SHAPES = ("none", "1x1", "5x5", "rbx", "depth", "tower", "supermodule")
#: The shapes of HCAL faults (``fault_shapes`` of a ``dqm-sample`` config), in code order.
HCAL_SHAPES = FAULT_SHAPES[1:5]
#: The shapes of ECAL barrel faults.
ECAL_SHAPES = ("1x1", "tower", "supermodule")
