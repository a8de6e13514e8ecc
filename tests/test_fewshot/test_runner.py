"""FewShotRunner: dataset, shot and seed reach the built runner; bad input is refused."""
import argparse
import os.path as osp

import pytest
from mmengine.config import Config, DictAction

from mmseg_expres.apis import load_run_config
from mmseg_expres.apis.runner_setup import check_variable_overrides
from mmseg_expres.engine.runners.fgvc_fewshot import apply_fewshot_split

from .fewshot_data import DEMO_CONFIG, REPO, make_folder

CONFIG = str(REPO / 'configs' / 'expres' / 'expres_vit-b16_1xb64-100e_fgvc-fewshot.py')


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    """Stanford Cars (lists name their folder: no images/) and Pets, 1 image a class."""
    root = tmp_path_factory.mktemp('fewshot')
    make_folder(str(root), 'standford-cars', dict(train=2, test=1), (1, 2), (0, 1))
    make_folder(str(root), 'oxford-pets', dict(train=2, val=1, test=1), (2, ), (0, ))
    return root


def _resolved(root, **variables):
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(dict(fewshot_root=str(root), **variables))
    apply_fewshot_split(cfg)
    return cfg


def test_dataset_shot_and_seed_pick_the_list_folder_and_head(root):
    cfg = _resolved(root, dataset='standford-cars', shot=2, seed=1, batch_size=8)
    assert cfg.model.head.num_classes == cfg.num_classes == 196
    assert cfg.model.data_preprocessor.num_classes == 196  # Mixup/CutMix use it
    train, test = cfg.train_dataloader, cfg.test_dataloader
    assert train.dataset.data_root == osp.join(str(root), 'standford-cars')
    assert train.dataset.ann_file == 'annotations/train_meta.list.num_shot_2.seed_1'
    assert train.dataset.data_prefix == ''  # Cars' lists say cars_train/... themselves
    assert (cfg.val_dataloader.dataset.ann_file == test.dataset.ann_file ==
            'annotations/test_meta.list')
    assert train.batch_size == test.batch_size == 8

    cfg = _resolved(root, dataset='oxford-pets', shot=2, val_split='val')
    assert cfg.model.head.num_classes == 37
    assert cfg.train_dataloader.dataset.data_prefix == 'images'
    assert cfg.val_dataloader.dataset.ann_file == 'annotations/val_meta.list'


@pytest.mark.parametrize('variables, error, message', [
    (dict(dataset='cub200'), KeyError, "Unknown few-shot data set 'cub200'"),
    (dict(dataset='standford-cars', shot=4), FileNotFoundError,
     r'No 4-shot list for seed 0.*has shots 1 \(seeds 0, 1\); 2 \(seeds 0, 1\).*'
     r'make_fewshot_lists.py .*--shots 4 --seeds 0'),
    (dict(dataset='oxford-flowers102'), FileNotFoundError,
     'oxford-flowers102 does not exist.*check_fewshot.py'),
    (dict(dataset='standford-cars', val_split='val'), FileNotFoundError,
     'val_meta.list is missing'),
    (dict(dataset='oxford-pets', train_split='train800'), ValueError,
     "train_split='train800' is not a split of the few-shot benchmark"),
    (dict(dataset='standford-cars', batch_size=197), ValueError,
     r'has 196 images, fewer than one batch \(197 per GPU'),
])
def test_bad_input_is_refused_with_the_fix(root, variables, error, message):
    with pytest.raises(error, match=message):
        _resolved(root, **variables)


def test_a_list_naming_a_missing_image_is_refused(root, tmp_path):
    make_folder(str(tmp_path), 'oxford-pets', dict(train=2, test=1), (1, ), (0, ))
    lines = (tmp_path / 'oxford-pets/annotations/test_meta.list').read_text().splitlines()
    (tmp_path / 'oxford-pets/images' / lines[5].split()[0]).unlink()
    with pytest.raises(FileNotFoundError, match=r'test_meta.list lists 1 image\(s\) missing '
                       r'under .*oxford-pets/images: test/005_000.png.*check_fewshot.py'):
        _resolved(tmp_path, dataset='oxford-pets', shot=1, batch_size=4)


def test_the_variables_may_be_overridden_and_reach_the_built_runner(root, tmp_path):
    options = ['fewshot_root=' + str(root), 'dataset=standford-cars', 'shot=1', 'seed=1',
               'custom_num_classes=None', 'batch_size=16', 'train_dataloader.num_workers=0']
    parsed = argparse.ArgumentParser()
    parsed.add_argument('--o', nargs='+', action=DictAction)
    args = argparse.Namespace(config=DEMO_CONFIG, launcher='none', local_rank=0,
                              work_dir=str(tmp_path), cfg_options=parsed.parse_args(
                                  ['--o', *options]).o)
    from mmengine.registry import RUNNERS, DefaultScope
    scopes = DefaultScope._instance_dict.copy()
    try:
        runner = RUNNERS.build(load_run_config(args, ()))
        assert runner.model.head.fc.out_features == 196
        loader = runner.build_dataloader(runner._train_dataloader)
        assert len(loader.dataset) == 196 and loader.batch_size == 16
        assert loader.dataset.ann_file.endswith('train_meta.list.num_shot_1.seed_1')
    finally:  # a Runner makes mmpretrain the current scope for the whole process
        DefaultScope._instance_dict.clear()
        DefaultScope._instance_dict.update(scopes)
    with pytest.raises(ValueError, match="'lr' is a variable of the config file"):
        check_variable_overrides(Config.fromfile(CONFIG), {'lr': 0.1})


def test_labels_outside_the_class_count_are_refused_before_training(tmp_path):
    """A 6-class data set of your own with custom_num_classes=4 used to train until
    mmpretrain's first step failed; the runner names the list, line and label."""
    make_folder(str(tmp_path), 'mine', dict(train=2, test=1), (1, ), (0, ),
                custom_num_classes=6)
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(dict(fewshot_root=str(tmp_path), dataset='mine', shot=1,
                             custom_num_classes=4))
    with pytest.raises(ValueError, match=r'train_meta.list.num_shot_1.seed_0: labels outside '
                                         r'\[0, 4\) for a 4-class head: line \d+: [45]'):
        apply_fewshot_split(cfg)
    cfg.custom_num_classes = 6
    apply_fewshot_split(cfg)
    assert cfg.model.head.num_classes == 6


def test_the_demo_config_presets_no_class_count(tmp_path):
    """Data of your own must say how many classes it has; the demo's 4 is not inherited."""
    make_folder(str(tmp_path), 'demo-a', dict(train=2, test=1), (1, ), (0, ),
                custom_num_classes=6)
    cfg = Config.fromfile(DEMO_CONFIG)
    assert cfg.custom_num_classes is None
    cfg.merge_from_dict(dict(fewshot_root=str(tmp_path), shot=1))
    with pytest.raises(KeyError, match="Unknown few-shot data set 'demo-a'.*custom_num_classes"):
        apply_fewshot_split(cfg)
