"""Command-line and config set-up shared by ``tools/train.py`` and ``tools/test.py``."""
import argparse
import logging
import os
import os.path as osp
from typing import FrozenSet, Iterable, Mapping, Optional, Sequence, Union

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


def parse_cfg_options(pairs: Optional[Sequence[str]]) -> dict:
    """``--cfg-options key=value ...`` parsed as MMEngine's ``DictAction`` parses them,
    for a tool whose parser keeps the strings (``nargs='+'``), so that ``--help`` and
    argument errors are answered before MMEngine and torch are imported."""
    namespace = argparse.Namespace()
    DictAction(option_strings=['--cfg-options'], dest='options')(None, namespace, pairs)
    return namespace.options or {}


#: Top-level keys that this project's tools read beside MMEngine's runner: tools/test.py's
#: ``--tta`` reads the TTA model and pipeline, the tools choose the runner by
#: ``runner_type``, and MMEngine's ``Config`` imports ``custom_imports`` itself.
TOOL_FIELDS = ('tta_model', 'tta_pipeline', 'runner_type', 'custom_imports')


def keys_read_by(runner_cls: type) -> FrozenSet[str]:
    """The top-level config keys that ``runner_cls`` (and its bases) read.

    Found in the classes' source, so a key a new MMEngine release reads is allowed as
    soon as it is installed: every ``cfg.get('key', ...)``, ``self.cfg.get('key')`` and
    ``cfg['key']`` on a name or attribute called ``cfg``. MMEngine's ``Runner`` reads
    most of its fields in ``from_cfg`` and some only later (``find_unused_parameters``
    and ``sync_bn`` when it wraps the model, ``activation_checkpointing``,
    ``efficient_conv_bn_eval`` and ``compile`` when it trains).
    """
    import ast
    import inspect
    import textwrap

    def is_cfg(node: ast.AST) -> bool:
        return ((isinstance(node, ast.Name) and node.id == 'cfg')
                or (isinstance(node, ast.Attribute) and node.attr == 'cfg'))

    keys = set()
    for cls in runner_cls.__mro__:
        if cls is object:
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        except (OSError, TypeError):  # a class without source (built in C)
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == 'get' and is_cfg(node.func.value) and node.args
                    and isinstance(node.args[0], ast.Constant)):
                keys.add(node.args[0].value)
            elif (isinstance(node, ast.Subscript) and is_cfg(node.value)
                  and isinstance(node.slice, ast.Constant)):
                keys.add(node.slice.value)
    return frozenset(k for k in keys if isinstance(k, str))


def runner_fields(cfg: Config) -> FrozenSet[str]:
    """Top-level keys that the run of ``cfg`` reads itself: ``--cfg-options`` on them
    take effect (MMEngine's runner of the config's ``runner_type``, and the tools)."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    runner = RUNNERS.get(cfg.get('runner_type', 'Runner')) or Runner
    return keys_read_by(runner) | frozenset(TOOL_FIELDS)


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
    fields = runner_fields(cfg)
    for key in options:
        name = key.split('.')[0]
        if name in fields or name in resolved:
            continue
        if name not in cfg:
            close = difflib.get_close_matches(name, [*fields, *resolved, *cfg], 3)
            raise ValueError(
                f'--cfg-options {key}=... names {name!r}, which neither this config nor '
                f'MMEngine\'s runner reads, so it would have no effect'
                + (f'; did you mean {" / ".join(close)}?' if close else '.')
                + ' A per-GPU batch size, for example, is train_dataloader.batch_size.')
        holding = fields_holding(cfg, cfg[name], skip=name, fields=fields)
        raise ValueError(
            f'--cfg-options {key}=... would have no effect: {name!r} is a variable of '
            'the config file, used when the file was read, before --cfg-options are '
            'applied. Override the fields it was used in ('
            + (', '.join(f'{f}=...' for f in holding) if holding else
               'e.g. model.backbone.pretrained, train_dataloader.batch_size, '
               'optim_wrapper.optimizer.lr')
            + '), or edit the config.'
            + (f' This config\'s runner re-derives {sorted(resolved)} from their '
               'variables.' if resolved else ''))


def fields_holding(cfg: Config, value: object, skip: str, fields: FrozenSet[str],
                   limit: int = 6) -> list:
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
        if key != skip and key in fields:
            walk(cfg[key], key)
    return found


def load_run_config(args: argparse.Namespace, dataloaders: Iterable[str]) -> Config:
    """The config of a run: file, ``--cfg-options``, work dir, machine fixes, data check.

    Args:
        args: parsed arguments with ``config`` and the :func:`add_common_args` options.
        dataloaders: the dataloaders whose data set layout is checked before anything
            is built, e.g. ``('train_dataloader', 'val_dataloader')``.
    """
    from ..datasets import check_config_datasets
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = load_checked_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = default_work_dir(cfg, args.config, args.work_dir)
    adapt_to_machine(cfg)
    init_cpu_process_group(cfg)
    check_config_datasets(cfg, dataloaders)
    return cfg


def load_checked_config(config: Union[str, Config],
                        options: Optional[Mapping[str, object]] = None,
                        data: bool = True) -> Config:
    """:func:`load_config`, then the model checks every tool makes before building: data
    sets, checked loaders and heads agree on the class count."""
    from ..datasets import check_class_counts
    cfg = load_config(config, options, data)
    check_class_counts(cfg)
    return cfg


def load_config(config: Union[str, Config], options: Optional[Mapping[str, object]] = None,
                data: bool = True) -> Config:
    """A config (file, or a ``Config``, which is copied) with its ``--cfg-options``
    (refused where they would do nothing) and the fields its runner derives from its
    variables (``data=False``: only the model's, for a model built to predict, where
    the data set need not be on the machine)."""
    import copy
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    if options:
        check_variable_overrides(cfg, options)
        cfg.merge_from_dict(options)
    resolve_variables(cfg, data)
    return cfg


def resolve_variables(cfg: Config, data: bool = True) -> None:
    """Let the config's runner derive its fields now, so the checks see the final config.

    A runner that re-derives fields from variables (``CustomSegRunner``, ``VtabRunner``,
    ...) does so again when it is built; deriving is idempotent.
    """
    from mmengine.registry import RUNNERS
    runner = RUNNERS.get(cfg.get('runner_type', 'Runner'))
    resolve = getattr(runner, 'resolve', None)
    if not data:
        resolve = getattr(runner, 'resolve_model', None) or resolve
    if resolve is not None:
        resolve(cfg)


def checks_data(cfg: Config) -> bool:
    """Whether this process runs the pre-training data check: every single-process run,
    and rank 0 of a launched one (torchrun's ``RANK``, Slurm's ``SLURM_PROCID``).

    The other ranks go on to build the runner, whose process group start waits for rank 0;
    if rank 0 finds a problem it exits, and the launcher stops the rest.
    """
    if cfg.get('launcher', 'none') == 'none':
        return True
    return int(os.environ.get('RANK', os.environ.get('SLURM_PROCID', '0'))) == 0


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
