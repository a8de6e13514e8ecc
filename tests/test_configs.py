"""Every shipped config parses, builds (with a tiny backbone) and runs a forward pass;
builds at full size the model it built before the configs were restructured; and stays
within three hops of mmseg's / mmpretrain's bases without deleting what a base added."""
import ast
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope

from .config_models import config_record, load_reference
from .conftest import TINY_VIT

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)
#: The shipped configs' ViTs and their widths, which the tiny stand-in replaces.
VIT_WIDTHS = {'vit_base_patch16_224': 768, 'vit_large_patch16_224': 1024,
              'vit_base_patch14_dinov2': 768, 'vit_large_patch14_dinov2': 1024}
TINY_WIDTH, TINY_DEPTH = 32, 4


def _shrink(node, width: int):
    """Replace the ViT's width (and four maps' concatenated width, DINOv2's "+ms" probe)
    by the tiny ViT's in a model config tree."""
    if isinstance(node, dict):
        return {k: _shrink(v, width) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return type(node)(_shrink(v, width) for v in node)
    return {width: TINY_WIDTH, 4 * width: 4 * TINY_WIDTH}.get(node, node)


def tiny_model_cfg(cfg: Config) -> dict:
    """The config's model with a tiny ViT-B stand-in and no pretrained file."""
    model = cfg.model.to_dict()
    backbone = model['backbone']
    backbone['pretrained'] = None
    if backbone.get('arch') in VIT_WIDTHS:
        model = _shrink(model, VIT_WIDTHS[backbone['arch']])
        backbone = model['backbone']
        depth_indices = tuple(range(TINY_DEPTH))
        backbone.update(arch=TINY_VIT['arch'], img_size=32,
                        vit_cfg=dict(TINY_VIT['vit_cfg']))
        count = len(backbone.get('out_indices', ()))
        backbone['out_indices'] = depth_indices[TINY_DEPTH - count:] if count else ()
    return model


def test_every_top_level_config_is_found():
    names = {osp.basename(p) for p in CONFIGS}
    assert {'expres_vit-b_ade20k.py', 'expres_vit-b_linear_ade20k.py',
            'expres_vit-b_cityscapes.py', 'expres_vit-b_linear_cityscapes.py'} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_builds_and_runs(path):
    cfg = Config.fromfile(path)
    assert 'mmseg_expres.models' in cfg.custom_imports['imports']
    # small checkpoints, and a NaN loss stops the run instead of being trained on
    assert {'TaskCheckpointHook', 'FiniteLossHook'} <= {h['type'] for h in cfg.custom_hooks}
    model_cfg = tiny_model_cfg(cfg)
    if model_cfg['backbone'].get('type', '').replace('mmseg.', '') not in (
            'ExpresViT', 'VPTViT', 'PeftViT'):
        pytest.skip(f'{model_cfg["backbone"].get("type")} has no tiny variant')
    # the config's scope (mmseg or mmpretrain) for this test only, not for later tests
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmseg')):
        model = MODELS.build(model_cfg).eval()
        with torch.no_grad():
            out = model(torch.rand(1, 3, 32, 32), mode='tensor')
    assert out is not None


def _bases(path: str):
    """The ``_base_`` entries of a config file, as written."""
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', '') == '_base_':
            value = ast.literal_eval(node.value)
            return [value] if isinstance(value, str) else list(value)
    return []


def _hops(path: str) -> int:
    """The longest chain of ``_base_`` links from ``path``; a library base ends it."""
    depths = [1 if '::' in base else 1 + _hops(osp.normpath(osp.join(osp.dirname(path), base)))
              for base in _bases(path)]
    return max(depths, default=0)


def _alias_target(path: str):
    """The config a short-name alias stands for (a file that only inherits one), or None."""
    tree = ast.parse(open(path).read())
    bases = _bases(path)
    if len(tree.body) == 1 and len(bases) == 1:
        return osp.normpath(osp.join(osp.dirname(path), bases[0]))
    return None


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_builds_the_model_it_built_before_the_restructuring(path):
    """Parameter names, shapes, trainable flags, per-part counts: tests/config_models.py."""
    reference = load_reference()
    name = osp.relpath(_alias_target(path) or path, osp.join(REPO, 'configs'))
    assert name in reference, (f'{name} has no reference record; if it is a new config, '
                               'add one with `python -m tests.config_models`.')
    assert config_record(path) == reference[name]


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_is_at_most_three_hops_from_the_library_bases(path):
    assert _hops(path) <= 3


def test_no_config_deletes_what_a_base_added():
    """Only mmseg's own parts are replaced: its SGD optimiser (schedule_80k.py) by AdamW,
    and the VisionTransformer of its SETR config by ExpresViT, whose arguments differ;
    nothing of this project's bases is ever deleted."""
    files = glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    deleting = sorted(osp.relpath(f, REPO) for f in files if '_delete_' in open(f).read())
    assert len(files) >= 40 and deleting == [
        'configs/_base_/expres_seg_runtime.py',
        'configs/setr/expres_vit-l16_setr-pup_8xb2-160k_ade20k-512x512.py']


def test_the_hop_count_sees_library_bases_and_chains(tmp_path):
    (tmp_path / 'a.py').write_text("_base_ = ['mmseg::_base_/default_runtime.py']\n")
    (tmp_path / 'b.py').write_text("_base_ = './a.py'\n")
    (tmp_path / 'c.py').write_text("_base_ = ['./b.py', './a.py']\n")
    assert [_hops(str(tmp_path / f'{n}.py')) for n in 'abc'] == [1, 2, 3]
    assert _alias_target(str(tmp_path / 'b.py')) == str(tmp_path / 'a.py')


@pytest.mark.parametrize('dataset', ['ade20k', 'cityscapes'])
def test_dataset_pipelines_are_mmsegs_with_checked_loaders(dataset):
    ours = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets',
                                    f'expres_{dataset}.py'))
    import mmseg
    mmseg = Config.fromfile(osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs',
                                     '_base_', 'datasets', f'{dataset}.py'))
    checked = {'LoadAnnotations': 'CheckedLoadAnnotations'}
    for name, loaders in (('train_pipeline', dict(checked, LoadImageFromFile=
                                                  'CheckedLoadImageFromFile')),
                          ('test_pipeline', checked)):
        for step, theirs in zip(ours[name], mmseg[name], strict=True):
            step, theirs = step.to_dict(), theirs.to_dict()
            step.pop('_scope_', None)
            if theirs['type'] in loaders:
                if step['type'] == 'CheckedLoadAnnotations':  # checks labels < num_classes
                    assert step.pop('num_classes') == ours.num_classes
                assert step.pop('type') == loaders[theirs.pop('type')]
            assert step == theirs
        assert ours[name.replace('pipeline', 'dataloader').replace(
            'test', 'val')].dataset.pipeline == ours[name]
