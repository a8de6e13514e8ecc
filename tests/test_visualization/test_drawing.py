"""Palette PNGs, overlays and legends: exact colours, in RGB."""
import logging

import numpy as np
import pytest
from PIL import Image

from mmseg_expres.visualization import (class_palette, draw_legend, overlay,
                                        overlay_with_legend, save_index_png)
from mmseg_expres.visualization.drawing import LEGEND_WIDTH, ROW_HEIGHT, legend_height

CLASSES = ('road', 'sky', 'tree')
PALETTE = np.array([[128, 64, 128], [6, 230, 230], [250, 10, 5]], np.uint8)


def _pred():
    pred = np.zeros((40, 30), np.int64)
    pred[:10] = 1   # sky, 300 px
    pred[30:, :5] = 2  # tree, 50 px
    return pred


def test_index_png_is_a_palette_png_that_reads_back_as_indices(tmp_path):
    path = str(tmp_path / 'pred.png')
    save_index_png(_pred(), PALETTE, path)
    image = Image.open(path)
    assert image.mode == 'P'
    assert np.array_equal(np.asarray(image), _pred())
    assert np.array_equal(np.asarray(image.convert('RGB')), PALETTE[_pred()])
    with pytest.raises(ValueError, match='256 colours'):
        save_index_png(np.full((2, 2), 300), np.zeros((301, 3), np.uint8), path)


def test_overlay_blends_in_rgb_with_the_exact_palette():
    image = np.zeros((40, 30, 3), np.uint8)
    image[..., 0] = 255  # red in RGB
    assert np.array_equal(overlay(image, _pred(), PALETTE, 0.0), image)
    assert np.array_equal(overlay(image, _pred(), PALETTE, 1.0), PALETTE[_pred()])
    half = overlay(image, _pred(), PALETTE, 0.5)
    assert half[0, 0].tolist() == [130, 115, 115]  # rint((255 + 6) / 2), 230 / 2, 230 / 2
    with pytest.raises(ValueError, match='differ in size'):
        overlay(image[:5], _pred(), PALETTE)


def test_legend_lists_present_classes_largest_first_with_their_colours():
    panel = draw_legend(_pred(), CLASSES, PALETTE, height=100)
    assert panel.shape == (100, LEGEND_WIDTH, 3)
    swatches = [panel[4 + row * ROW_HEIGHT + 5, 10].tolist() for row in range(4)]
    # road 850 px, sky 300, tree 50; the fourth row is empty (white)
    assert swatches == [PALETTE[0].tolist(), PALETTE[1].tolist(), PALETTE[2].tolist(),
                        [255, 255, 255]]
    # text is drawn in black next to the swatches
    assert (panel[4:4 + ROW_HEIGHT, 24:] < 128).any()


def test_legend_that_does_not_fit_says_how_many_more():
    pred = np.arange(12).reshape(3, 4)
    panel = draw_legend(pred, [f'c{i}' for i in range(12)],
                        np.full((12, 3), 7, np.uint8), height=legend_height(3))
    swatch_rows = [(panel[4 + r * ROW_HEIGHT + 5, 10] == 7).all() for r in range(3)]
    assert swatch_rows == [True, True, False]  # the last row holds "+10 more"
    assert (panel[4 + 2 * ROW_HEIGHT:4 + 3 * ROW_HEIGHT, 24:] < 128).any()


def test_overlay_with_legend_layout():
    image = np.full((40, 30, 3), 90, np.uint8)
    picture = overlay_with_legend(image, _pred(), CLASSES, PALETTE, opacity=1.0)
    assert picture.shape == (max(40, legend_height(3)), 30 + LEGEND_WIDTH, 3)
    assert np.array_equal(picture[:40, :30], PALETTE[_pred()])
    # a video's frames keep one size whatever classes they show
    fixed = [overlay_with_legend(image, p, CLASSES, PALETTE, legend_rows=3).shape
             for p in (_pred(), np.zeros((40, 30), np.int64))]
    assert fixed[0] == fixed[1]


def test_class_palette_completes_a_short_palette_and_needs_classes(caplog):
    with caplog.at_level(logging.WARNING):
        classes, palette = class_palette(dict(classes=CLASSES, palette=PALETTE[:1].tolist()))
    assert classes == CLASSES and palette.shape == (3, 3) and 'fixed random' in caplog.text
    assert palette[0].tolist() == PALETTE[0].tolist()
    assert np.array_equal(class_palette(dict(classes=CLASSES))[1], class_palette(
        dict(classes=CLASSES))[1])  # the same colours every time
    with pytest.raises(ValueError, match='no class names'):
        class_palette(None)
