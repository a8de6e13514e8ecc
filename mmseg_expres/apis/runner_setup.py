"""Command-line and config set-up shared by ``tools/train.py`` and ``tools/test.py``."""
import argparse
import logging
import os
import os.path as osp
from typing import Iterable, Mapping, Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """The options every tool shares with mmseg's own ``tools/train.py``/``test.py``."""
    parser.add_argument('--work-dir', help='where logs (and checkpoints) go')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. model.backbone.num_tokens=10')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


#: Top-level config keys that MMEngine's Runner (and tools/test.py) read themselves;
#: ``--cfg-options`` on them takes effect.
RUNNER_FIELDS = frozenset((
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader',
    'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper',
    'param_scheduler', 'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks',
    'data_preprocessor', 'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor',
    'log_level', 'visualizer', 'default_scope', 'randomness', 'experiment_name',
    'model_wrapper_cfg', 'compile', 'runner_type', 'custom_imports', 'tta_model',
    'tta_pipeline'))


def check_variable_overrides(cfg: Config, options: Mapping[str, object]) -> None:
    """Refuse ``--cfg-options`` that would change nothing the run reads.

    A config file's variables (``batch_size``, ``crop_size``, ``prompt_lr``, ...) are
    used while the file is read; MMEngine applies ``--cfg-options`` afterwards, so
    overriding one changes the variable and none of the fields computed from it. Only
    runner fields and the variables the config's runner resolves when it is built
    (``resolved_variables``, e.g. ``VtabRunner``'s ``task`` and ``batch_size``) may be
    overridden; a top-level key that neither the config nor the runner has is refused
    too (a typo, or ``batch_size`` on a config whose loaders set their own).

    Args:
        cfg: the config as read from its file, before the options are merged.
        options: the parsed ``--cfg-options``.
    """
    import difflib

    from mmengine.registry import RUNNERS
    runner = RUNNERS.get(cfg.get('runner_type', 'Runner'))
    resolved = set(getattr(runner, 'resolved_variables', ()))
    for key in options:
        name = key.split('.')[0]
        if name in RUNNER_FIELDS or name in resolved:
            continue
        if name not in cfg:
            close = difflib.get_close_matches(name, [*RUNNER_FIELDS, *resolved, *cfg], 3)
            raise ValueError(
                f'--cfg-options {key}=... names {name!r}, which neither this config nor '
                f'MMEngine\'s runner reads, so it would have no effect'
                + (f'; did you mean {" / ".join(close)}?' if close else '.')
                + ' A per-GPU batch size, for example, is train_dataloader.batch_size.')
        fields = fields_holding(cfg, cfg[name], skip=name)
        raise ValueError(
            f'--cfg-options {key}=... would have no effect: {name!r} is a variable of '
            'the config file, used when the file was read, before --cfg-options are '
            'applied. Override the fields it was used in ('
            + (', '.join(f'{f}=...' for f in fields) if fields else
               'e.g. model.backbone.pretrained, train_dataloader.batch_size, '
               'optim_wrapper.optimizer.lr')
            + '), or edit the config.'
            + (f' This config\'s runner re-derives {sorted(resolved)} from their '
               'variables.' if resolved else ''))


def fields_holding(cfg: Config, value: object, skip: str, limit: int = 6) -> list:
    """The runner fields of ``cfg`` whose value is ``value`` (where a variable went).

    Only distinctive values are looked for (strings, tuples, numbers other than 0 and 1),
    so ``data_root`` names the three loaders' ``dataset.data_root`` and ``crop_size`` the
    fields it was copied into, not every field that happens to be ``True``.
    """
    if isinstance(value, bool) or value in (None, 0, 1, '') or isinstance(value, dict):
        return []
    found = []

    def walk(node, path):
        if len(found) >= limit:
            return
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f'{path}.{k}' if path else k)
        elif isinstance(node, (list, tuple)) and node != value:
            for i, v in enumerate(node):
                walk(v, f'{path}[{i}]')
        elif type(node) is type(value) and node == value:
            found.append(path)

    for key in cfg:
        if key != skip and key in RUNNER_FIELDS:
            walk(cfg[key], key)
    return found


def load_run_config(args: argparse.Namespace, dataloaders: Iterable[str]) -> Config:
    """The config of a run: file, ``--cfg-options``, work dir, machine fixes, data check.

    Args:
        args: parsed arguments with ``config`` and the :func:`add_common_args` options.
        dataloaders: the dataloaders whose data set layout is checked before anything
            is built, e.g. ``('train_dataloader', 'val_dataloader')``.
    """
    from ..datasets import check_class_counts, check_config_datasets
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = default_work_dir(cfg, args.config, args.work_dir)
    adapt_to_machine(cfg)
    init_cpu_process_group(cfg)
    check_config_datasets(cfg, dataloaders)
    check_class_counts(cfg)
    return cfg


def load_config(path: str, options: Optional[Mapping[str, object]] = None) -> Config:
    """A config file with its ``--cfg-options`` (refused where they would do nothing)
    and the fields its runner derives from its variables."""
    cfg = Config.fromfile(path)
    if options:
        check_variable_overrides(cfg, options)
        cfg.merge_from_dict(options)
    resolve_variables(cfg)
    return cfg


def resolve_variables(cfg: Config) -> None:
    """Let the config's runner derive its fields now, so the checks see the final config.

    A runner that re-derives fields from variables (``CustomSegRunner``, ``VtabRunner``,
    ...) does so again when it is built; deriving is idempotent.
    """
    from mmengine.registry import RUNNERS
    resolve = getattr(RUNNERS.get(cfg.get('runner_type', 'Runner')), 'resolve', None)
    if resolve is not None:
        resolve(cfg)


def default_work_dir(cfg: Config, config_path: str, work_dir: Optional[str]) -> str:
    """``--work-dir`` if given, else the config's, else ``work_dirs/<config name>``."""
    if work_dir is not None:
        return work_dir
    return cfg.get('work_dir') or osp.join('work_dirs', osp.splitext(osp.basename(config_path))[0])


def _sync_bn_to_bn(node) -> int:
    """Replace ``SyncBN`` norm configs by ``BN`` in a config tree; returns the count."""
    count = 0
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
            count += 1
        for value in node.values():
            count += _sync_bn_to_bn(value)
    elif isinstance(node, (list, tuple)):
        count += sum(_sync_bn_to_bn(value) for value in node)
    return count


def adapt_to_machine(cfg: Config) -> None:
    """Make a GPU config run where there is no GPU, instead of crashing.

    Without CUDA: distributed runs use gloo (NCCL cannot start), DDP gets no device ids
    (it rejects them for CPU modules), and SyncBN, which needs CUDA, becomes BN.
    Single-process runs need none of this for SyncBN: MMEngine's runner reverts it.
    """
    if torch.cuda.is_available():
        return
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        dist_cfg['backend'] = 'gloo'
    if cfg.get('launcher', 'none') != 'none':
        wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
        wrapper.setdefault('device_ids', None)
        wrapper.setdefault('broadcast_buffers', False)
        cfg.model_wrapper_cfg = wrapper
        if _sync_bn_to_bn(cfg.model):
            print_log('No CUDA: SyncBN layers are built as BN for this CPU run.',
                      logger='current', level=logging.WARNING)


def init_cpu_process_group(cfg: Config) -> None:
    """Start a gloo process group for a torchrun launch on a machine without CUDA.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` unconditionally; a process
    group that already exists makes it skip that.
    """
    import torch.distributed as dist
    if (not torch.cuda.is_available() and cfg.get('launcher') == 'pytorch'
            and not dist.is_initialized()):
        dist.init_process_group(backend='gloo')


def enable_amp(cfg: Config) -> None:
    """Mixed precision as ``--amp`` asks: fp16 with dynamic loss scale on CUDA, bf16 on CPU.

    ``AutocastOptimWrapper`` is MMEngine's ``AmpOptimWrapper`` on CUDA and also runs on
    the CPU, where MMEngine's refuses to start.
    """
    wrapper = cfg.optim_wrapper
    if wrapper.get('type') in ('AmpOptimWrapper', 'AutocastOptimWrapper'):
        print_log('AMP training is already enabled in the config.', logger='current',
                  level=logging.WARNING)
        return
    if wrapper.get('type', 'OptimWrapper') != 'OptimWrapper':
        raise ValueError(f'--amp needs optim_wrapper.type == "OptimWrapper", got '
                         f'{wrapper.get("type")!r}; set AutocastOptimWrapper in the config '
                         'instead.')
    wrapper.type = 'AutocastOptimWrapper'
    wrapper.loss_scale = 'dynamic'
    wrapper.dtype = 'float16' if torch.cuda.is_available() else 'bfloat16'
