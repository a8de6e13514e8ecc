"""Episodic data sets on generated PASCAL VOC data, the binary-mask transform, the runner."""
import os

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from mmseg_expres.apis.runner_setup import check_variable_overrides
from mmseg_expres.datasets.fewshot_seg.dataset import (EpisodeBinaryMask, FewShotSegDataset,
                                                       episode_names)
from mmseg_expres.engine.runners.fewshot_seg import apply_fold_and_shot
from mmseg_expres.datasets.demo_data.fewshot_seg import make_pascal

from ..test_tools.seg_runs import REPO

RESIZE = dict(type='Resize', scale=(32, 32), keep_ratio=False)
LOAD = [dict(type='LoadAnnotations'), dict(type='EpisodeBinaryMask')]
SUPPORT = [dict(type='LoadImageFromFile'), *LOAD, RESIZE, dict(type='PackSegInputs')]
QUERY = [dict(type='LoadImageFromFile'), RESIZE, *LOAD, dict(type='PackSegInputs')]


@pytest.fixture(scope='module')
def voc(tmp_path_factory) -> str:
    return make_pascal(str(tmp_path_factory.mktemp('voc')), num_train=80, num_val=60,
                       size=(24, 28))


def episodes(voc, **kwargs) -> FewShotSegDataset:
    args = dict(benchmark='pascal5i', data_root=voc, ann_file='ImageSets/Segmentation/val.txt',
                data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
                num_episodes=12, pipeline=QUERY, support_pipeline=SUPPORT, cache_index=False)
    return FewShotSegDataset(**dict(args, **kwargs))


def test_binary_mask_keeps_ignore():
    out = EpisodeBinaryMask()(dict(gt_seg_map=np.array([[3, 4, 255, 0]], np.uint8),
                                   episode_class=3))
    assert out['gt_seg_map'].tolist() == [[1, 0, 255, 0]]


def test_test_episode_holds_query_supports_and_binary_masks(voc):
    data = episodes(voc, shot=2)
    item = data[0]
    sample = item['data_samples']
    assert item['inputs'].shape == (3, 3, 32, 32) and item['inputs'].dtype == torch.uint8
    assert sample.support_masks.data.shape == (2, 32, 32)
    assert sample.gt_sem_seg.data.shape == (1, 24, 28)  # the query's mask, original size
    assert set(sample.gt_sem_seg.data.unique().tolist()) <= {0, 1, 255}
    assert (sample.gt_sem_seg.data == 1).any() and (sample.support_masks.data == 1).any()
    assert sample.episode_class in data.classes == [1, 2, 3, 4, 5]


def test_same_seed_evaluates_exactly_the_same_episodes(voc):
    first = episode_names(episodes(voc, fold=2, seed=5))
    assert first == episode_names(episodes(voc, fold=2, seed=5))
    assert first != episode_names(episodes(voc, fold=2, seed=6))
    assert {cls for cls, _, _ in first} <= set(range(11, 16))


def test_training_uses_base_classes_and_novel_pixels_become_background(voc):
    data = episodes(voc, mode='train', fold=0, ann_file='ImageSets/Segmentation/trainaug.txt')
    assert data.classes == list(range(6, 21)) == sorted(data.per_class)
    seen_novel = 0
    for i in range(len(data)):
        cls, query = data.pairs[i]
        gt = data[i]['data_samples'].gt_sem_seg.data[0].numpy()  # QUERY: original size
        label = np.asarray(Image.open(os.path.join(voc, 'SegmentationClassAug', query + '.png')))
        assert (gt == np.where(label == 255, 255, label == cls)).all()
        seen_novel += int(((label >= 1) & (label <= 5)).any())
    assert seen_novel  # images showing a novel class were kept, their pixels background


def test_exclude_novel_drops_training_images_that_show_a_novel_class(voc):
    kept = episodes(voc, mode='train', ann_file='ImageSets/Segmentation/trainaug.txt')
    dropped = episodes(voc, mode='train', ann_file='ImageSets/Segmentation/trainaug.txt',
                       exclude_novel=True)
    assert len(dropped) < len(kept)


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(shot=0), ValueError, 'positive integer'),
    (dict(shot=9), ValueError, 'fewer than 10 usable images'),
    (dict(fold=5), ValueError, 'out of range'),
    (dict(ann_file='missing.txt'), FileNotFoundError, 'does not exist'),
])
def test_bad_settings_get_one_clear_error(voc, kwargs, error, match):
    with pytest.raises(error, match=match):
        episodes(voc, **kwargs)


def test_list_naming_an_image_without_mask(voc, tmp_path):
    with open(os.path.join(voc, 'ImageSets/Segmentation/val.txt')) as f:
        names = f.read()
    (tmp_path / 'broken.txt').write_text(names + 'no_such_image\n')
    with pytest.raises(FileNotFoundError, match='no_such_image'):
        episodes(voc, ann_file=str(tmp_path / 'broken.txt'))


def test_listed_image_missing_is_named_before_any_episode(voc, tmp_path):
    """Masks there, one JPEG gone: the data set refuses to start, naming it."""
    import shutil
    root = str(tmp_path / 'voc')
    shutil.copytree(voc, root)
    with open(os.path.join(root, 'ImageSets/Segmentation/val.txt')) as f:
        last = f.read().split()[-1]  # not necessarily an image of the fold's classes
    os.remove(os.path.join(root, 'JPEGImages', last + '.jpg'))
    with pytest.raises(FileNotFoundError, match=rf'1 of 60 listed images have no image .*'
                                                rf'{last}\.jpg'):
        episodes(root)


CONFIG = str(REPO / 'configs' / 'fewshot' / 'expres_vit-b_coco20i.py')


def test_runner_writes_fold_shot_and_folders_into_the_loaders():
    cfg = Config.fromfile(CONFIG)
    options = dict(fold=2, shot=5, episode_seed=3)
    check_variable_overrides(cfg, options)  # resolved variables are accepted
    cfg.merge_from_dict(options)
    apply_fold_and_shot(cfg)
    test, train = cfg.test_dataloader.dataset, cfg.train_dataloader.dataset
    assert (test.fold, test.shot, test.seed, test.num_episodes) == (2, 5, 3, 1000)
    assert test.ann_file == 'fewshot_seg/val2014.txt' and test.data_prefix.img_path == 'val2014'
    assert (train.fold, train.shot, train.mode) == (2, 1, 'train')
    assert train.data_prefix.seg_map_path == 'fewshot_seg/train2014'
    with pytest.raises(ValueError, match='would have no effect'):
        check_variable_overrides(cfg, dict(crop_size=(64, 64)))
    cfg.merge_from_dict(dict(fold=4))
    with pytest.raises(ValueError, match='out of range'):
        apply_fold_and_shot(cfg)
