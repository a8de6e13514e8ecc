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


@pytest.mark.parametrize('key', ['find_unused_parameters', 'sync_bn',
                                 'activation_checkpointing', 'efficient_conv_bn_eval',
                                 'compile', 'model_wrapper_cfg'])
def test_keys_mmengines_runner_reads_outside_from_cfg_are_allowed(key):
    """MMEngine reads these through cfg.get when it wraps the model or starts training:
    the usual workaround for unused parameters must not be refused."""
    check_variable_overrides(Config.fromfile(SEG), {key: True})


def test_the_allowed_keys_cover_every_key_the_runner_reads(tmp_path):
    """Record, on a real tiny run (build, one training epoch), every top-level key that
    MMEngine's runner (VtabRunner here) reads from its config: each must be allowed.
    This fails as soon as an MMEngine release reads a key that the derivation misses."""
    from mmengine.registry import RUNNERS

    from mmseg_expres.apis.runner_setup import runner_fields

    reads = set()

    class RecordingConfig(Config):
        def __getattr__(self, name):
            value = super().__getattr__(name)
            if name == 'get':
                def get(key, *default):
                    reads.add(key)
                    return value(key, *default)
                return get
            if not name.startswith('_') and name in self._cfg_dict:
                reads.add(name)
            return value

        def __getitem__(self, name):
            reads.add(name)
            return super().__getitem__(name)

    make_vtab_task(str(tmp_path), 'dtd', dict(train800=4, val200=2, test=3))
    from mmengine.config import DictAction
    options = _vtab_options(tmp_path, 'task=dtd', 'batch_size=2')
    args = argparse.Namespace(
        config=VTAB, launcher='none', work_dir=str(tmp_path / 'work'), local_rank=0,
        cfg_options={k: DictAction._parse_iterable(v) for k, v in options.items()})
    cfg = load_run_config(args, ())
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.checkpoint.interval = 0
    recording = RecordingConfig.__new__(RecordingConfig)
    recording.__dict__.update(cfg.__dict__)
    runner = RUNNERS.build(recording)
    runner.train()
    assert reads, 'nothing was recorded: the recording config is not what the runner read'
    # read when training starts, after from_cfg (find_unused_parameters and sync_bn are
    # read only by a distributed run; the parametrized test above covers them)
    assert {'activation_checkpointing', 'efficient_conv_bn_eval', 'compile'} <= reads
    resolved = set(RUNNERS.get(cfg.runner_type).resolved_variables)
    missing = sorted(reads - runner_fields(cfg) - resolved)
    assert not missing, f'MMEngine reads {missing}, which --cfg-options would refuse'


def test_only_rank_0_of_a_launched_run_checks_the_data(monkeypatch):
    from mmseg_expres.apis.runner_setup import checks_data
    launched = Config(dict(launcher='pytorch'))
    monkeypatch.setenv('RANK', '1')
    assert not checks_data(launched)
    assert checks_data(Config(dict(launcher='none')))  # a single process always checks
    monkeypatch.setenv('RANK', '0')
    assert checks_data(launched)
    monkeypatch.delenv('RANK')
    monkeypatch.setenv('SLURM_PROCID', '3')
    assert not checks_data(Config(dict(launcher='slurm')))
