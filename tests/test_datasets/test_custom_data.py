"""Your own data: the template's classes reach every field, each bad input gets its message."""
import argparse
import copy
import functools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from mmseg_expres.apis import load_config, load_run_config
from mmseg_expres.apis.runner_setup import check_variable_overrides, resolve_variables
from mmseg_expres.datasets import ClassCountError
from mmseg_expres.datasets.demo_data.segmentation import CUSTOM_CLASSES, make_custom
from mmseg_expres.datasets.segmentation.check_report import (DataCheckError, class_table,
                                                             check_before_training,
                                                             format_problems)
from mmseg_expres.datasets.segmentation.classes import check_palette, read_classes
from mmseg_expres.datasets.segmentation.label_check import SplitSpec, check_split

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
UPERNET = str(CONFIGS / 'expres' / 'expres_vit-b16_upernet_8xb2-80k_custom-512x512.py')
LINEAR = str(CONFIGS / 'expres' / 'expres_vit-b16_linear_8xb2-80k_custom-512x512.py')
ADE = str(CONFIGS / 'expres' / 'expres_vit-b16_upernet_8xb2-80k_ade20k-512x512.py')


@functools.lru_cache(maxsize=None)
def _parsed(path: str) -> Config:
    return Config.fromfile(path)


def _load(path: str, options: dict) -> Config:
    """``load_config`` (file, --cfg-options, runner-derived fields) on a cached parse."""
    cfg = copy.deepcopy(_parsed(path))
    check_variable_overrides(cfg, options)
    cfg.merge_from_dict(options)
    resolve_variables(cfg)
    return cfg


@pytest.fixture
def data(tmp_path) -> str:
    return make_custom(str(tmp_path / 'my_data'), num_train=4, num_val=2, size=(24, 32))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('MMSEG_EXPRES_CACHE', str(tmp_path / 'cache'))


def test_read_classes_from_list_and_file(tmp_path):
    (tmp_path / 'classes.txt').write_text('sky\n\n  road \ncar\n')
    assert read_classes('classes.txt', str(tmp_path)) == ['sky', 'road', 'car']
    assert read_classes(['a', 'b']) == ['a', 'b']


@pytest.mark.parametrize('text,message', [('\n\n', 'names no class'),
                                          ('sky\nroad\nsky\n', r"\['sky'\] more than once")])
def test_bad_classes_file_is_refused(tmp_path, text, message):
    (tmp_path / 'classes.txt').write_text(text)
    with pytest.raises(ValueError, match=message):
        read_classes('classes.txt', str(tmp_path))


def test_missing_classes_file_says_what_to_write(tmp_path):
    with pytest.raises(FileNotFoundError, match='one a line in label order'):
        read_classes('classes.txt', str(tmp_path))


def test_palette_of_wrong_length_is_refused():
    with pytest.raises(ValueError, match='3 colours for 2 classes'):
        check_palette([[0, 0, 0], [1, 1, 1], [2, 2, 2]], ['a', 'b'])
    with pytest.raises(ValueError, match='not \\[r, g, b\\]'):
        check_palette([[0, 0], [1, 1, 300]], ['a', 'b'])


@pytest.mark.parametrize('config,heads', [(UPERNET, ('decode_head', 'auxiliary_head')),
                                          (LINEAR, ('decode_head',))])
def test_classes_reach_datasets_loaders_heads_and_metric(data, config, heads):
    palette = [[0, 0, 0], [1, 1, 1], [2, 2, 2], [3, 3, 3]]
    cfg = _load(config, {'data_root': data, 'palette': palette, 'reduce_zero_label': False})
    assert cfg.num_classes == 4 and cfg.classes == list(CUSTOM_CLASSES)
    for head in heads:
        assert cfg.model[head].num_classes == 4
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[key].dataset
        assert dataset.metainfo == dict(classes=CUSTOM_CLASSES, palette=palette)
        assert dataset.data_root == data
        loaders = [s for s in dataset.pipeline if s.type == 'CheckedLoadAnnotations']
        assert [s.num_classes for s in loaders] == [4]
    assert cfg.train_dataloader.dataset.data_prefix.img_path == 'images/training'
    # the built data set carries the names to IoUMetric (dataset_meta)
    from mmseg.registry import DATASETS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    built = DATASETS.build(cfg.val_dataloader.dataset)
    assert len(built) == 2 and built.metainfo['classes'] == CUSTOM_CLASSES


def test_a_leaf_config_sets_the_variables(data, tmp_path):
    leaf = tmp_path / 'mine.py'
    leaf.write_text(f"_base_ = [{LINEAR!r}]\ndata_root = {data!r}\n"
                    "classes = ['wall', 'building', 'sky']\nimg_suffix = '.jpg'\n")
    cfg = load_config(str(leaf))
    assert cfg.model.decode_head.num_classes == 3


def test_template_refuses_a_class_count_variable_and_takes_classes(data):
    with pytest.raises(ValueError, match="'num_classes' is a variable"):
        _load(UPERNET, {'data_root': data, 'num_classes': 4})
    assert _load(UPERNET, {'data_root': data, 'classes': ['a', 'b']}).num_classes == 2


@pytest.mark.parametrize('options,message', [
    ({'classes': []}, 'names no class'),
    ({'palette': [[1, 2, 3]]}, '1 colours for 4 classes'),
    ({'reduce_zero_label': 'yes'}, 'use True'),
])
def test_bad_template_variables_stop_the_config(data, options, message):
    with pytest.raises(ValueError, match=message):
        _load(UPERNET, dict(data_root=data, **options))


def _run_args(config, **options):
    return argparse.Namespace(config=config, cfg_options=options or None, launcher='none',
                              work_dir=None, local_rank=0)


def test_head_class_count_mismatch_names_both_numbers_and_the_field():
    with pytest.raises(ClassCountError) as error:
        load_run_config(_run_args(ADE, **{'model.auxiliary_head.num_classes': 151}), ())
    message = str(error.value)
    assert 'has 150 classes' in message and 'model.auxiliary_head.num_classes is 151' in message
    assert 'Set model.auxiliary_head.num_classes=150' in message


def test_loader_class_count_mismatch_is_named():
    cfg = copy.deepcopy(_parsed(ADE))
    cfg.val_dataloader.dataset.pipeline[2].num_classes = 19
    from mmseg_expres.datasets import check_class_counts
    with pytest.raises(ClassCountError, match=r'val_dataloader.dataset.pipeline\[2\]'
                       r'.num_classes is 19'):
        check_class_counts(cfg)
    cfg = copy.deepcopy(_parsed(ADE))
    cfg.val_dataloader.dataset.metainfo = dict(classes=('a', 'b'))
    with pytest.raises(ClassCountError, match='val_dataloader.dataset.metainfo.classes has 2'):
        check_class_counts(cfg)


def test_top_level_data_root_refusal_names_the_fields_that_take_it():
    with pytest.raises(ValueError) as error:
        _load(ADE, {'data_root': '/data/ade'})
    message = str(error.value)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert f'{key}.dataset.data_root=...' in message
    assert 'model.backbone.pretrained' not in message  # not unrelated fields


def _spec(data, split='validation', **kw):
    return SplitSpec(split, os.path.join(data, 'images', split),
                     os.path.join(data, 'annotations', split), num_classes=4, **kw)


def _mask(data, split, index):
    return os.path.join(data, 'annotations', split, f'{split}_{index:04d}.png')


def test_clean_split_passes_and_counts_classes(data):
    report = check_split(_spec(data, 'training'), nproc=1, progress=False)
    assert report.pairs == 4 and report.problems == []
    labels = np.concatenate([np.asarray(Image.open(_mask(data, 'training', i))).ravel()
                             for i in range(4)])
    for label in range(4):
        assert report.class_counts.get(label, [0, 0])[1] == int((labels == label).sum())


def test_every_bad_file_is_reported_in_one_run(data):
    Image.fromarray(np.full((24, 32), 7, np.uint8)).save(_mask(data, 'validation', 0))
    rgb = np.zeros((24, 32, 3), np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb).save(_mask(data, 'validation', 1))
    os.makedirs(os.path.join(data, 'images', 'validation', 'x'))
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(
        os.path.join(data, 'images', 'validation', 'x', 'lonely.jpg'))
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(
        os.path.join(data, 'annotations', 'validation', 'orphan.png'))
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(
        os.path.join(data, 'images', 'validation', 'small.jpg'))
    Image.fromarray(np.zeros((12, 10), np.uint8)).save(
        os.path.join(data, 'annotations', 'validation', 'small.png'))
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(
        os.path.join(data, 'images', 'validation', 'broken.jpg'))
    Path(data, 'annotations', 'validation', 'broken.png').write_bytes(b'\x89PNG broken')
    report = check_split(_spec(data), nproc=2, progress=False)
    kinds = {kind: path for kind, path, _ in report.problems}
    assert set(kinds) == {'label out of range', 'colour mask', 'image without mask',
                          'mask without image', 'size mismatch', 'undecodable mask'}
    text = format_problems([report])
    assert '[7] outside [0, 4)' in text and '_labels --palette PALETTE' in text
    assert 'lonely.jpg' in text and 'orphan.png' in text and '10x12' in text


def test_one_based_labels_get_the_reduce_zero_label_hint(data):
    mask = np.asarray(Image.open(_mask(data, 'validation', 0)))
    shifted = np.where(mask == 255, 0, mask + 1).astype(np.uint8)  # 0 unlabelled, 1..4
    Image.fromarray(shifted).save(_mask(data, 'validation', 0))
    report = check_split(_spec(data), nproc=1, progress=False)
    assert 'set reduce_zero_label=True' in format_problems([report])
    fixed = check_split(_spec(data, reduce_zero_label=True), nproc=1, progress=False)
    assert not [p for p in fixed.problems if p[1].endswith('validation_0000.png')]


def test_class_table_flags_classes_absent_from_training(data):
    for i in range(4):
        mask = np.asarray(Image.open(_mask(data, 'training', i))).copy()
        mask[mask == 3] = 0
        Image.fromarray(mask).save(_mask(data, 'training', i))
    train = check_split(_spec(data, 'training'), nproc=1, progress=False)
    train.spec.name = 'train'
    table = class_table([train], CUSTOM_CLASSES).splitlines()
    assert 'never in training' in next(r for r in table if ' tree ' in r)
    assert 'never in training' not in next(r for r in table if ' sky ' in r)


def test_check_before_training_reads_every_split_and_caches(data):
    cfg = _load(UPERNET, {'data_root': data})
    check_before_training(cfg)
    Image.fromarray(np.full((24, 32), 9, np.uint8)).save(_mask(data, 'validation', 1))
    os.utime(_mask(data, 'validation', 1), ns=(1, 1))  # same size, older mtime: re-read
    with pytest.raises(DataCheckError, match=r'validation_0001.png: label values \[9\]'):
        check_before_training(cfg)


def test_sixteen_bit_mask_above_255_is_named_with_its_wrapped_labels(data):
    mask = np.asarray(Image.open(_mask(data, 'validation', 0))).astype(np.uint16)
    mask[0, :3] = 258  # mmseg's uint8 cast: 2, a valid class
    Image.fromarray(mask).save(_mask(data, 'validation', 0))
    assert Image.open(_mask(data, 'validation', 0)).mode == 'I;16'
    report = check_split(_spec(data), nproc=1, progress=False)
    kinds = {kind: message for kind, _, message in report.problems}
    assert set(kinds) == {'label above 255'}
    assert 'label values [258] above 255 in a 16-bit mask' in kinds['label above 255']
    assert 'scored as [2]' in kinds['label above 255']


def test_a_decoding_run_after_a_header_only_run_decodes(data):
    """The pre-training check reads headers only; a cached header must not pass for a
    decoded image."""
    image = os.path.join(data, 'images', 'validation', 'validation_0000.jpg')
    content = Path(image).read_bytes()
    Path(image).write_bytes(content[:len(content) // 2])  # header intact, pixels cut off
    spec = _spec(data)
    header_only = check_split(spec, nproc=1, decode_images=False, use_cache=True,
                              progress=False)
    assert header_only.problems == []
    decoded = check_split(spec, nproc=1, decode_images=True, use_cache=True, progress=False)
    assert [kind for kind, _, _ in decoded.problems] == ['undecodable image']
    # a decoded result serves a later header-only run
    assert check_split(spec, nproc=1, decode_images=False, use_cache=True,
                       progress=False).problems == decoded.problems


def test_each_problem_names_its_fix(data):
    Image.fromarray(np.full((24, 32), 7, np.uint8)).save(_mask(data, 'validation', 0))
    Image.fromarray(np.zeros((12, 16), np.uint8)).save(_mask(data, 'validation', 1))
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(
        os.path.join(data, 'annotations', 'validation', 'orphan.png'))
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(
        os.path.join(data, 'images', 'validation', 'lonely.jpg'))
    kinds = {kind: message for kind, _, message in
             check_split(_spec(data), nproc=1, progress=False).problems}
    assert 'add them to `classes`' in kinds['label out of range']
    assert 'put its mask there' in kinds['image without mask']
    assert 'put its image there, or remove the mask' in kinds['mask without image']
    resize = kinds['size mismatch']
    assert 'nearest neighbour' in resize
    command = resize[resize.index('python -c'):].replace('python', sys.executable, 1)
    subprocess.run(command, shell=True, check=True)
    assert Image.open(_mask(data, 'validation', 1)).size == (32, 24)
