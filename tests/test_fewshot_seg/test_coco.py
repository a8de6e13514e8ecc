"""COCO-20i: the instance-to-semantic converter on generated COCO 2014 files."""
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmseg_expres.datasets.fewshot_seg.dataset import FewShotSegDataset
from mmseg_expres.datasets.fewshot_seg.splits import COCO_CATEGORY_IDS
from mmseg_expres.datasets.demo_data.fewshot_seg import make_coco

from ..test_tools.seg_runs import run_tool, tool


@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    root = make_coco(str(tmp_path_factory.mktemp('coco')), num_train=10, num_val=200)
    run_tool([tool('dataset_converters/coco20i_masks.py'), root])
    return root


def test_masks_hold_contiguous_labels_and_crowd_as_ignore(coco):
    with open(osp.join(coco, 'annotations', 'instances_val2014.json')) as f:
        instances = json.load(f)
    first = [a for a in instances['annotations'] if a['image_id'] == 1]
    mask = np.asarray(Image.open(osp.join(coco, 'fewshot_seg', 'val2014',
                                          'COCO_val2014_000000000001.png')))
    polygon = first[0]['segmentation'][0]  # the box x0, y0, x1, y0, x1, y1, x0, y1
    x0, y0, x1, y1 = (int(polygon[i]) for i in (0, 1, 4, 5))
    label = COCO_CATEGORY_IDS.index(first[0]['category_id']) + 1
    inner = mask[y0 + 1:y1 - 1, x0 + 1:x1 - 1]
    assert (inner == label).mean() > 0.5  # smaller objects may be painted on top
    assert (mask[:3, :3] == 255).all()  # image 1 has the crowd region (i % 5 == 0)
    with open(osp.join(coco, 'fewshot_seg', 'val2014.txt')) as f:
        assert f.read().splitlines()[:2] == ['COCO_val2014_000000000001',
                                             'COCO_val2014_000000000002']


@pytest.mark.parametrize('split, classes', [('interleaved', [3, 7, 11]),
                                            ('blocks', [41, 42, 43])])
def test_coco_episodes_follow_the_fold_convention(coco, split, classes):
    data = FewShotSegDataset(
        'coco20i', coco, 'fewshot_seg/val2014.txt',
        dict(img_path='val2014', seg_map_path='fewshot_seg/val2014'), fold=2, shot=1,
        coco_split=split, num_episodes=20, cache_index=False)
    assert data.classes[:3] == classes
    assert {e.cls for e in data.episodes} <= set(data.classes)


def test_converter_on_the_wrong_folder_says_what_it_expects(tmp_path):
    result = run_tool([tool('dataset_converters/coco20i_masks.py'), str(tmp_path)],
                      check=False)
    assert result.returncode != 0
    assert 'is not a COCO 2014 folder' in result.stderr
    assert 'instances_train2014.json' in result.stderr
