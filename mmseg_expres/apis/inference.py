"""The one model loader: every tool and API builds its model from a config here.

``tools/infer.py``, ``tools/export_full_checkpoint.py``, the web page, the few-shot CLI,
the analysis tools and users' own code call :func:`init_model`; ``tools/train.py`` and
``tools/test.py`` hand their config to MMEngine's runner, but read it through the same
the same :func:`~.runner_setup.load_checked_config` and, for a checkpoint, the same
:func:`fit_config_to_checkpoint`. So every tool

* resolves the config's runner variables (a custom-data config's ``classes``, a VTAB
  config's ``task``) and refuses ``--cfg-options`` that would change nothing;
* checks that data sets, loaders and heads agree on the class count;
* decides what a checkpoint is from what it holds: a file that holds the frozen ViT's
  tensors (its meta says ``task_checkpoint=False``, or the tensors are there) runs
  without the pretrained ViT file; a task checkpoint needs ``pretrained`` and keeps it;
* loads strictly (``models/task_loading.py``): a missing, extra or mis-shaped tensor of
  the model, or another tuning method's checkpoint, is a ``CheckpointMismatchError``
  before any weight is copied, and the frozen ViT's fingerprint must match.
"""
import copy
import os.path as osp
from typing import Dict, Mapping, Optional, Set, Tuple, Union

import torch
from mmengine.config import Config
from torch import nn

from ..utils.checkpoint_files import check_checkpoint_file
from .runner_setup import load_checked_config


def check_device(device: str) -> None:
    """Refuse a CUDA device that torch cannot see, with what to do."""
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise ValueError(f'--device {device}, but torch sees no CUDA device (torch '
                         f'{torch.__version__}, CUDA build {torch.version.cuda}): use '
                         '--device cpu, or install a CUDA build of torch.')


def read_checkpoint(checkpoint: str) -> Tuple[Dict[str, torch.Tensor], dict]:
    """(tensors, meta) of a checkpoint, memory-mapped where the file allows it."""
    check_checkpoint_file(checkpoint)
    try:
        loaded = torch.load(checkpoint, map_location='cpu', weights_only=True, mmap=True)
    except RuntimeError:  # an old, non-zip file cannot be memory-mapped
        loaded = torch.load(checkpoint, map_location='cpu', weights_only=True)
    if not isinstance(loaded, dict):
        return {}, {}
    return loaded.get('state_dict', loaded), loaded.get('meta') or {}


def pretrained_keys(cfg: Config) -> Dict[str, Set[str]]:
    """Per ViT backbone of ``cfg.model`` (its ``...vit.`` prefix), the state-dict keys that
    come from ``pretrained`` rather than from a task checkpoint: the frozen ViT tensors.

    Decided by the model's structure (which tensors its tuning method trains), built on
    the meta device: no weight is allocated or read. Fine-tuning's ViT trains whole, so
    its set is empty.
    """
    from mmengine.registry import MODELS, init_default_scope

    from ..models.backbones import FrozenViTBackbone
    from ..models.backbones.frozen_vit import sharing_vit
    model_cfg = copy.deepcopy(cfg.model)
    for backbone in _backbone_configs(model_cfg):
        backbone['pretrained'] = None
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    # its own ViT even inside init_multi_task's sharing_vit: the skeleton must not put
    # its adapters (LoRA) into the shared ViT
    with torch.device('meta'), sharing_vit(None):
        skeleton = MODELS.build(model_cfg)
    found = {}
    for name, module in skeleton.named_modules():
        if isinstance(module, FrozenViTBackbone):
            prefix = f'{name}.vit.' if name else 'vit.'
            found[prefix] = {prefix + key for key in module.frozen_vit_keys()} \
                if module.frozen else set()
    return found


def _backbone_configs(model_cfg: Mapping) -> list:
    """The config dicts of ViT backbones in a model config (those with ``pretrained``)."""
    found = []

    def walk(node):
        if isinstance(node, Mapping):
            if 'pretrained' in node and 'arch' in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)
    walk(model_cfg)
    return found


def fit_config_to_checkpoint(cfg: Config, checkpoint: str, config_name: str) -> dict:
    """Let what ``checkpoint`` holds decide whether ``cfg`` needs its pretrained ViT file.

    A self-contained checkpoint (every frozen ViT tensor in it) needs none:
    ``pretrained`` is set to None in ``cfg``. A task checkpoint (none of them) keeps the
    config's ``pretrained`` (or its seeded random ViT, as the demos have); the backbone's
    fingerprint check refuses it on another ViT. Only frozen tensors decide; LoRA, SSF,
    AdaptFormer and tuned biases are in every checkpoint of their method.

    Returns:
        the checkpoint's meta.

    Raises:
        CheckpointMismatchError: a checkpoint with part of the frozen ViT, or one that
            says it is self-contained and holds none of it.
    """
    from ..models.backbones.vit_weights import CheckpointMismatchError
    state_dict, meta = read_checkpoint(checkpoint)
    backbones = _backbone_configs(cfg.model)
    for prefix, frozen in pretrained_keys(cfg).items():
        held = frozen & state_dict.keys()
        if held and held != frozen:
            missing = sorted(frozen - held)
            raise CheckpointMismatchError(
                f'{checkpoint} holds {len(held)} of the {len(frozen)} frozen ViT tensors of '
                f'the model that {config_name} builds (missing e.g. {missing[:3]}): it is '
                'neither a task checkpoint nor a self-contained one. Export it again '
                '(tools/export_full_checkpoint.py) or use the config it was trained with.')
        if held == frozen and (frozen or any(k.startswith(prefix) for k in state_dict)):
            for backbone in backbones:
                backbone['pretrained'] = None  # the ViT comes with the checkpoint
        elif meta.get('task_checkpoint') is False:
            raise CheckpointMismatchError(
                f'{checkpoint} says it is self-contained, but holds none of the frozen ViT '
                f'tensors that {config_name} builds ({prefix}...). Use the config written '
                'next to it by tools/export_full_checkpoint.py.')
    return meta


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: str = 'cpu', cfg_options: Optional[Mapping] = None) -> nn.Module:
    """Build the model of a config, on a checkpoint (task or self-contained) if given.

    mmseg's ``init_model`` for segmentation configs, mmpretrain's for classification (the
    config's ``default_scope`` says which), after the checks in this module's docstring.
    ``config`` is not modified.

    Args:
        config: a config file or ``Config``.
        checkpoint: a task checkpoint (the ViT comes from the config's ``pretrained``), a
            self-contained one (``tools/export_full_checkpoint.py``, or fine-tuning's), or
            None for the config's initial model.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ...
        cfg_options: overrides, as ``--cfg-options`` gives them.

    Raises:
        ValueError: a CUDA device without CUDA, or ``cfg_options`` that would do nothing.
        FileNotFoundError: a missing config or checkpoint.
        ClassCountError: data sets and heads that disagree on the class count.
        CheckpointMismatchError: a checkpoint of another model or tuning method, or a task
            checkpoint on another frozen ViT.
    """
    check_device(device)
    name = config if isinstance(config, str) else 'the config'
    if isinstance(config, str) and not osp.isfile(config):
        raise FileNotFoundError(f'No such config file: {config}')
    cfg = load_checked_config(config, cfg_options, data=False)
    if checkpoint is not None:
        fit_config_to_checkpoint(cfg, checkpoint, name)
    if cfg.get('default_scope', 'mmseg') == 'mmpretrain':
        from mmpretrain.apis import init_model as init_classifier
        return init_classifier(cfg, checkpoint, device)
    from mmseg.apis import init_model as init_segmentor
    return init_segmentor(cfg, checkpoint, device)
