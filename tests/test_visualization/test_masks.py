"""Binary-mask overlays and legend shares (the page, the few-shot tool), by hand."""
import numpy as np

from mmseg_expres.visualization import class_shares, overlay_mask


def test_overlay_mask_blends_only_the_object():
    image = np.full((2, 2, 3), 100, np.uint8)
    out = overlay_mask(image, np.array([[1, 0], [0, 1]]), (255, 0, 0), alpha=0.5)
    assert out[0, 0].tolist() == [177, 50, 50] and out[1, 1].tolist() == [177, 50, 50]
    assert out[0, 1].tolist() == [100, 100, 100]


def test_class_shares_lists_present_classes_largest_first():
    label = np.array([[2, 2, 2], [0, 2, 0]])
    rows = class_shares(label, ['sky', 'wall', 'tree'], np.arange(9).reshape(3, 3))
    assert [(r.name, r.index, round(r.share, 4), r.rgb) for r in rows] == [
        ('tree', 2, 0.6667, (6, 7, 8)), ('sky', 0, 0.3333, (0, 1, 2))]
