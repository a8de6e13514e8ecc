"""Palettes given at inference: files and colours as the user writes them, refused with
the fix when they do not fit the model's classes."""
import json

import numpy as np
import pytest
import torch
from mmengine.config import Config

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


class Model(torch.nn.Module):
    """What the drawing reads of a model: the checkpoint's meta and the config."""

    def __init__(self, config_palette=None):
        super().__init__()
        self.dataset_meta = dict(classes=CLASSES, palette=[[1, 1, 1]] * 3)
        metainfo = dict(classes=CLASSES, **({'palette': config_palette}
                                            if config_palette else {}))
        self.cfg = Config(dict(test_dataloader=dict(dataset=dict(metainfo=metainfo))))


def test_given_palette_beats_the_configs_which_beats_the_checkpoints():
    from mmseg_expres.apis.segment_files import Segmenter
    from mmseg_expres.web_demo.runs import SegmentDemo
    config = [[9, 9, 9], [8, 8, 8], [7, 7, 7]]
    for draw in (lambda m, p: Segmenter(m, palette=p).palette,
                 lambda m, p: SegmentDemo(m, p).palette):
        assert draw(Model(), None).tolist() == [[1, 1, 1]] * 3          # the checkpoint's
        assert draw(Model(config), None).tolist() == config             # the config's
        assert draw(Model(config), '#c8bea0;#5a96e6;#008000').tolist() == RGB  # given
        with pytest.raises(ValueError, match='1 colour'):
            draw(Model(), '1,2,3')
