"""--cfg-options reach what they name: runner fields and the variables a runner resolves
take effect, file variables that nothing reads any more are refused with the fix."""
import argparse
from pathlib import Path

import pytest
from mmengine.config import Config

from mmseg_expres.apis import load_run_config
from mmseg_expres.apis.runner_setup import check_variable_overrides

from ..conftest import TINY_VIT
from ..test_vtab.vtab_data import make_vtab_task

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
SEG = str(CONFIGS / 'expres' / 'expres_vit-b16_upernet_8xb2-80k_ade20k-512x512.py')
VTAB = str(CONFIGS / 'expres' / 'expres_vit-b16_1xb128-100e_vtab1k.py')


@pytest.mark.parametrize('key', ['crop_size', 'num_classes', 'prompt_lr', 'max_iters',
                                 'pretrained', 'train_pipeline', 'out_indices'])
def test_overriding_a_file_variable_is_refused_with_the_fix(key):
    with pytest.raises(ValueError, match=f"'{key}' is a variable of the config file.*"
                       'Override the fields it was used in'):
        check_variable_overrides(Config.fromfile(SEG), {key: 1})


@pytest.mark.parametrize('key,close', [('batch_size', None),
                                       ('optim_wraper.optimizer.lr', 'optim_wrapper')])
def test_a_key_nothing_reads_is_refused(key, close):
    with pytest.raises(ValueError, match='neither this config nor') as error:
        check_variable_overrides(Config.fromfile(SEG), {key: 1})
    assert 'train_dataloader.batch_size' in str(error.value)
    assert close is None or f'did you mean {close}' in str(error.value)


@pytest.mark.parametrize('key', ['model.backbone.num_tokens', 'train_cfg.max_iters',
                                 'optim_wrapper.optimizer.lr', 'work_dir', 'load_from'])
def test_overriding_runner_fields_is_allowed(key):
    check_variable_overrides(Config.fromfile(SEG), {key: 1})


def _vtab_options(root, *extra):
    tiny = [f'model.backbone.arch={TINY_VIT["arch"]}', 'model.backbone.pretrained=None',
            f'model.backbone.img_size={TINY_VIT["img_size"]}',
            f'model.head.in_channels={TINY_VIT["vit_cfg"]["embed_dim"]}']
    tiny += [f'model.backbone.vit_cfg.{k}={v}' for k, v in TINY_VIT['vit_cfg'].items()]
    return {k: v for k, v in (o.split('=', 1) for o in [*tiny, f'vtab_root={root}', *extra])}


@pytest.fixture(autouse=True)
def _keep_default_scope():
    """A Runner makes its config's scope (mmpretrain) current for the whole process."""
    from mmengine.registry import DefaultScope
    instances = DefaultScope._instance_dict.copy()
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(instances)


def _build_runner(tmp_path, options):
    from mmengine.registry import RUNNERS
    from mmengine.config import DictAction
    parsed = {k: DictAction._parse_iterable(v) for k, v in options.items()}
    args = argparse.Namespace(config=VTAB, cfg_options=parsed, launcher='none',
                              work_dir=str(tmp_path / 'work'), local_rank=0)
    cfg = load_run_config(args, ())
    return RUNNERS.build(cfg)


def test_every_documented_vtab_variable_reaches_the_built_runner(tmp_path):
    """task, vtab_root, the three splits and batch_size (docs/vtab.md, the config)."""
    make_vtab_task(str(tmp_path), 'dtd', dict(train800=4, val200=2, test=3))
    runner = _build_runner(tmp_path, _vtab_options(
        tmp_path, 'task=dtd', 'train_split=train800', 'val_split=val200',
        'test_split=train800val200', 'batch_size=3'))
    assert runner.model.head.fc.out_features == 47  # DTD's classes
    loaders = {name: runner.build_dataloader(getattr(runner, f'_{name}_dataloader'))
               for name in ('train', 'val', 'test')}
    assert {name: len(loader.dataset) for name, loader in loaders.items()} == \
        dict(train=4, val=2, test=6)
    assert all(loader.batch_size == 3 for loader in loaders.values())
    assert loaders['train'].dataset.data_root == str(tmp_path / 'dtd')


def test_a_dataloader_batch_size_wins_over_the_variable(tmp_path):
    make_vtab_task(str(tmp_path), 'dtd', dict(train800=4, val200=2, test=3))
    runner = _build_runner(tmp_path, _vtab_options(
        tmp_path, 'task=dtd', 'batch_size=3', 'train_dataloader.batch_size=2'))
    assert runner.build_dataloader(runner._train_dataloader).batch_size == 2
    assert runner.build_dataloader(runner._test_dataloader).batch_size == 3


def test_vtab_variables_the_runner_does_not_resolve_are_refused(tmp_path):
    with pytest.raises(ValueError, match="'max_epochs'.*re-derives"):
        _build_runner(tmp_path, _vtab_options(tmp_path, 'max_epochs=3'))
