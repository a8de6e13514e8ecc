"""The drawing the page and the few-shot tool share, against hand computations."""
import numpy as np

from mmseg_expres.visualization import (class_palette, class_shares, overlay_label_map,
                                        overlay_mask)


def test_overlay_mask_blends_only_the_object():
    image = np.full((2, 2, 3), 100, np.uint8)
    out = overlay_mask(image, np.array([[1, 0], [0, 1]]), (255, 0, 0), alpha=0.5)
    assert out[0, 0].tolist() == [177, 50, 50] and out[1, 1].tolist() == [177, 50, 50]
    assert out[0, 1].tolist() == [100, 100, 100]


def test_overlay_label_map_uses_each_pixels_class_colour():
    image = np.zeros((1, 2, 3), np.uint8)
    palette = np.array([[200, 0, 0], [0, 100, 50]], np.uint8)
    out = overlay_label_map(image, np.array([[1, 0]]), palette, alpha=0.5)
    assert out.tolist() == [[[0, 50, 25], [100, 0, 0]]]


def test_class_palette_keeps_the_given_colours_and_extends_them_the_same_way():
    palette = class_palette(4, [[1, 2, 3], [4, 5, 6]])
    assert palette.shape == (4, 3) and palette[:2].tolist() == [[1, 2, 3], [4, 5, 6]]
    np.testing.assert_array_equal(palette, class_palette(4, [[1, 2, 3], [4, 5, 6]]))
    assert class_palette(1, [[1, 2, 3], [4, 5, 6]]).tolist() == [[1, 2, 3]]


def test_class_shares_lists_present_classes_largest_first():
    label = np.array([[2, 2, 2], [0, 2, 0]])
    rows = class_shares(label, ['sky', 'wall', 'tree'], np.arange(9).reshape(3, 3))
    assert [(r.name, r.index, round(r.share, 4), r.rgb) for r in rows] == [
        ('tree', 2, 0.6667, (6, 7, 8)), ('sky', 0, 0.3333, (0, 1, 2))]
