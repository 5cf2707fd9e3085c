"""training/mask_ceiling.py: a ground-truth mask's round trip through a mask head's resolution."""
from __future__ import annotations

import numpy as np

from training.mask_ceiling import ceiling_iou


def test_a_mask_on_the_cell_grid_comes_back_whole_and_a_speck_below_a_cell_is_lost():
    aligned = np.zeros((128, 128), bool)
    aligned[16:40, 64:96] = True  # edges on the 4-pixel cells of a 32 x 32 map
    speck = np.zeros((128, 128), bool)
    speck[50, 50] = True  # one pixel covers 1/16 of a cell
    whole, lost = ceiling_iou([aligned, speck], 32)
    assert whole > 0.99 and lost == 0.0  # bilinear taps round the rectangle's corners, a few pixels
    assert ceiling_iou([speck], 128).tolist() == [1.0]  # at full resolution nothing is lost


def test_an_off_grid_disc_loses_more_at_coarser_sides():
    yy, xx = np.mgrid[:128, :128]
    disc = (yy - 61.3) ** 2 + (xx - 70.7) ** 2 < 5.5 ** 2
    coarse, fine = ceiling_iou([disc], 16)[0], ceiling_iou([disc], 32)[0]
    assert 0 < coarse < fine
