"""Configs outside the clone inherit ours as ``mmseg_expres::<path>`` and build."""
import os.path as osp
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

import mmseg_expres  # noqa: F401 - registers the scope, as the tools and users do
from mmseg_expres.utils.config_scope import shipped_configs_dir

REPO = Path(__file__).resolve().parents[1]


def test_the_scope_reads_this_checkouts_configs():
    assert osp.realpath(shipped_configs_dir()) == osp.realpath(REPO / 'configs')


def test_package_data_ships_every_config():
    """setup.py's glob, run over the package folder, finds every config."""
    import glob
    shipped = {osp.relpath(p, shipped_configs_dir()) for p in glob.glob(
        osp.join(shipped_configs_dir(), '**', '*.py'), recursive=True)}
    in_repo = {osp.relpath(p, REPO / 'configs') for p in glob.glob(
        str(REPO / 'configs' / '**' / '*.py'), recursive=True)}
    assert shipped == in_repo and len(shipped) > 60


def test_segmentation_leaf_in_another_folder_builds_with_mmsegs_init_model(tmp_path,
                                                                            monkeypatch):
    from mmseg.apis import init_model
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'mine.py').write_text(
        "_base_ = ['mmseg_expres::demo/expres_vit-demo_ade20k.py']\n"
        "model = dict(backbone=dict(pretrained=None))\n")
    cfg = Config.fromfile('mine.py')
    assert cfg.model._scope_ == 'mmseg_expres' and cfg.model.backbone.type == 'ExpresViT'
    model = init_model('mine.py', device='cpu')
    assert type(model.backbone).__name__ == 'ExpresViT'
    assert model.decode_head.conv_seg.out_channels == 150
    with torch.no_grad():
        assert model(torch.rand(1, 3, 128, 128), mode='tensor').shape[1] == 150


def test_classification_leaf_builds_through_the_scope(tmp_path, monkeypatch):
    """mmpretrain's types (ImageClassifier, ...) resolve under the scope too."""
    from mmseg_expres.apis import init_model
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'cls.py').write_text(
        "_base_ = ['mmseg_expres::expres/expres_vit-b16_1xb128-100e_vtab1k.py']\n"
        "model = dict(backbone=dict(pretrained=None, arch='test_vit', img_size=32,\n"
        "    vit_cfg=dict(patch_size=8, embed_dim=32, depth=4, num_heads=2)),\n"
        "    head=dict(in_channels=32))\n")
    model = init_model('cls.py')
    assert type(model).__name__ == 'ImageClassifier'
    assert model.head.fc.out_features == 102


def test_unknown_scope_path_names_the_file(tmp_path):
    (tmp_path / 'bad.py').write_text("_base_ = ['mmseg_expres::expres/nope.py']\n")
    with pytest.raises(FileNotFoundError, match='nope.py'):
        Config.fromfile(str(tmp_path / 'bad.py'))
