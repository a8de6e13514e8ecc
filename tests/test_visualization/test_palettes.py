"""Palettes given at inference: files and colours as the user writes them, refused with
the fix when they do not fit the model's classes."""
import json

import numpy as np
import pytest

from mmseg_expres.visualization.palettes import drawing_palette

CLASSES = ('wall', 'sky', 'tree')
RGB = [[200, 190, 160], [90, 150, 230], [0, 128, 0]]


@pytest.mark.parametrize('spec', ['200,190,160 90,150,230 0,128,0',
                                  '#c8bea0;#5a96e6;#008000', RGB,
                                  ['#c8bea0', (90, 150, 230), '0,128,0']])
def test_colours_in_every_form_give_the_same_palette(spec):
    palette = drawing_palette(spec, CLASSES)
    assert palette.dtype == np.uint8 and palette.tolist() == RGB


def test_files_in_the_converters_formats(tmp_path):
    text = tmp_path / 'classes.txt'
    text.write_text('wall 200 190 160\nsky #5a96e6\ntree 0,128,0\n')
    assert drawing_palette(str(text), CLASSES).tolist() == RGB
    as_json = tmp_path / 'palette.json'
    as_json.write_text(json.dumps(dict(zip(CLASSES, RGB))))
    assert drawing_palette(str(as_json), CLASSES).tolist() == RGB
    unnamed = tmp_path / 'colours.json'
    unnamed.write_text(json.dumps(RGB))
    assert drawing_palette(str(unnamed), CLASSES).tolist() == RGB


def test_another_class_order_or_count_is_refused(tmp_path):
    swapped = tmp_path / 'classes.txt'
    swapped.write_text('sky #5a96e6\nwall 200 190 160\ntree 0,128,0\n')
    with pytest.raises(ValueError, match=r"names the classes \['sky', 'wall', 'tree'\], but "
                                         r"the model's are \['wall', 'sky', 'tree'\]"):
        drawing_palette(str(swapped), CLASSES)
    with pytest.raises(ValueError, match=r"2 colour\(s\) for the model's 3 classes"):
        drawing_palette('1,2,3 4,5,6', CLASSES)
    with pytest.raises(ValueError, match='palette colour 1'):
        drawing_palette('1,2,3 4,5,600 7,8,9', CLASSES)
    with pytest.raises(ValueError, match="palette 'mine.txt': no such file"):
        drawing_palette('mine.txt', CLASSES)
