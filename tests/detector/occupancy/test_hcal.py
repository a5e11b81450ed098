"""CMS-like HCAL geometry: channel counts, φ granularity, readout boxes, map slices."""

from __future__ import annotations

import numpy as np
import pytest

from heplearn.detector.occupancy.hcal import (
    HCAL_SHAPE,
    N_RBX,
    SUBDETECTORS,
    hcal_valid_mask,
    ieta_of_row,
    rbx_map,
    rbx_name,
    rbx_of,
    row_of_ieta,
    select_map,
    subdetector_map,
    subdetector_of,
    tower_eta_edges,
)
from heplearn.errors import ConfigError


def test_rows_map_to_ieta_without_zero() -> None:
    rows = np.arange(HCAL_SHAPE[0])
    ieta = ieta_of_row(rows)
    assert ieta[0] == -41 and ieta[40] == -1 and ieta[41] == 1 and ieta[81] == 41
    assert not np.any(ieta == 0)
    np.testing.assert_array_equal(row_of_ieta(ieta), rows)


def test_channel_counts_per_subdetector() -> None:
    codes = subdetector_map()
    # HB: 15 rings × 72 × 4 + ieta 16 × 72 × 3, both sides.
    assert np.sum(codes == 1) == 2 * (15 * 72 * 4 + 72 * 3) == 9072
    # HE: ieta 16 depth 4; 17–20 at 5°; 21–28 at 10° × 4 depths; 29 at 10° × depths 1–2.
    assert np.sum(codes == 2) == 2 * (72 + 4 * 72 * 4 + 8 * 36 * 4 + 36 * 2) == 4896
    # HF: ieta 29 depths 3–4; 30–39 at 10°; 40–41 at 20°.
    assert np.sum(codes == 3) == 2 * (36 * 2 + 10 * 36 * 4 + 2 * 18 * 4) == 3312
    assert hcal_valid_mask().sum() == 17280


@pytest.mark.parametrize(
    ("ieta", "n_phi"), [(1, 72), (20, 72), (21, 36), (-29, 36), (35, 36), (40, 18), (-41, 18)]
)
def test_phi_granularity(ieta: int, n_phi: int) -> None:
    towers = hcal_valid_mask()[row_of_ieta(ieta)].any(axis=1)
    assert towers.sum() == n_phi
    if n_phi == 36:  # 10° towers sit on odd iphi
        assert np.all(np.flatnonzero(towers) % 2 == 0)
    if n_phi == 18:  # HF 20° rings: iphi 3, 7, …, 71
        np.testing.assert_array_equal(np.flatnonzero(towers) + 1, np.arange(3, 72, 4))


def test_overlap_towers_split_by_depth() -> None:
    depths = np.arange(1, 5)
    assert list(subdetector_of(16, 1, depths)) == [1, 1, 1, 2]
    assert list(subdetector_of(-29, 1, depths)) == [2, 2, 3, 3]
    assert subdetector_of(22, 2, 1) == 0  # even iphi beyond |ieta| 20 is no tower
    assert subdetector_of(42, 1, 1) == 0 and subdetector_of(5, 73, 1) == 0


def test_readout_boxes_cover_every_channel_once() -> None:
    boxes = rbx_map()
    valid = hcal_valid_mask()
    np.testing.assert_array_equal(boxes >= 0, valid)
    assert len(np.unique(boxes[valid])) == N_RBX
    codes = subdetector_map()
    for box in range(N_RBX):
        members = np.argwhere(boxes == box)
        iphi = np.unique(members[:, 1]) + 1
        # Sector s (name suffix) holds the 4 iphi from 71 + 4 (s - 1), wrapping at 72.
        sector = int(rbx_name(box)[3:])
        start = (71 + 4 * (sector - 1) - 1) % 72 + 1
        assert np.all((iphi - start) % 72 < 4), (box, iphi)
        assert len(np.unique(codes[boxes == box])) == 1
        assert len(np.unique(np.sign(ieta_of_row(members[:, 0])))) == 1
    # A half-barrel has 18 boxes, each of 16 ieta × 4 iphi channels of HB.
    hbp = [b for b in range(N_RBX) if rbx_name(b).startswith("HBP")]
    assert len(hbp) == 18
    assert all(np.sum(boxes == b) == 4 * (15 * 4 + 3) for b in hbp)


def test_rbx_naming_follows_cms() -> None:
    box = int(rbx_of(5, 71, 1))
    assert rbx_name(box) == "HBP01"
    assert int(rbx_of(5, 2, 3)) == box and int(rbx_of(5, 3, 1)) == box + 1
    assert rbx_name(int(rbx_of(-35, 1, 2))) == "HFM01"
    assert int(rbx_of(22, 2, 1)) == -1
    with pytest.raises(ConfigError):
        rbx_name(N_RBX)


def test_tower_eta_edges_are_contiguous() -> None:
    for name, rings in (("HB", range(1, 16)), ("HE", range(17, 29)), ("HF", range(30, 41))):
        for ieta in rings:
            assert tower_eta_edges(ieta, name)[1] == pytest.approx(
                tower_eta_edges(ieta + 1, name)[0]
            )
    assert tower_eta_edges(-41, "HF") == pytest.approx((-4.889, -5.191))
    with pytest.raises(ConfigError):
        tower_eta_edges(35, "HB")


def test_select_map_keeps_one_subdetector() -> None:
    rng = np.random.default_rng(3)
    maps = rng.uniform(1, 2, (3, *HCAL_SHAPE)).astype(np.float32) * hcal_valid_mask()
    hb = select_map(maps, "HB")
    assert hb.shape == (3, 32, 72, 4) and hb.dtype == np.float32
    # ieta 16 depth 4 belongs to HE: zeroed in the HB slice; HB channels kept unchanged.
    assert np.all(hb[:, row_of_ieta(16) - 25, :, 3] == 0)
    assert hb.sum() == pytest.approx(maps[:, subdetector_map() == 1].sum(), rel=1e-6)
    hf_depth2 = select_map(maps, "HF", depth=2)
    assert hf_depth2.shape == (3, 26, 72)
    assert np.count_nonzero(hf_depth2[0]) == np.sum(subdetector_map()[..., 1] == 3)
    np.testing.assert_array_equal(select_map(maps[0], depth=3), maps[0, ..., 2])
    for name in SUBDETECTORS:
        assert select_map(maps, name).sum() > 0
    with pytest.raises(ConfigError, match="HB, HE or HF"):
        select_map(maps, "HO")
    with pytest.raises(ConfigError):
        select_map(maps[..., :2])
