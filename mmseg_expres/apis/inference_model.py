"""A segmentation model for inference from a config and a task or a full checkpoint.

MMEngine's ``load_checkpoint`` (which mmseg's ``init_model`` calls) only warns about
missing, unexpected or mis-shaped keys, so a checkpoint of another model would run
with random heads; here those are a :class:`CheckpointMismatchError`.
"""
import copy
import os.path as osp
from typing import Dict, Optional, Union

import torch
from mmengine.config import Config

from .inference import init_model

FROZEN_VIT_PREFIX = 'backbone.vit.'


def check_device(device: str) -> None:
    """Refuse a CUDA device that torch cannot see, with what to do."""
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise ValueError(f'--device {device}, but torch sees no CUDA device (torch '
                         f'{torch.__version__}, CUDA build {torch.version.cuda}): use '
                         '--device cpu, or install a CUDA build of torch.')


def read_state_dict(checkpoint: str) -> Dict[str, torch.Tensor]:
    """The tensors of a checkpoint, memory-mapped where the file allows it."""
    try:
        loaded = torch.load(checkpoint, map_location='cpu', weights_only=True, mmap=True)
    except RuntimeError:  # an old, non-zip file cannot be memory-mapped
        loaded = torch.load(checkpoint, map_location='cpu', weights_only=True)
    return loaded.get('state_dict', loaded) if isinstance(loaded, dict) else {}


def check_state_dict(model: torch.nn.Module, state_dict: Dict[str, torch.Tensor],
                     checkpoint: str, config: str) -> None:
    """Every tensor of the model is in the checkpoint with its shape, and nothing else is
    (the frozen ViT may be absent: a task checkpoint).

    Raises:
        CheckpointMismatchError: naming the keys that differ.
    """
    from ..models.backbones.vit_weights import CheckpointMismatchError  # imports mmseg
    expected = model.state_dict()
    missing = sorted(k for k in expected if k not in state_dict
                     and not k.startswith(FROZEN_VIT_PREFIX))
    unexpected = sorted(k for k in state_dict if k not in expected)
    shapes = sorted(f'{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}'
                    for k, v in expected.items()
                    if k in state_dict and state_dict[k].shape != v.shape)
    if not (missing or unexpected or shapes):
        return
    lines = [f'The checkpoint {checkpoint} is not of the model that {config} builds.']
    for title, keys in (('Missing', missing), ('Unexpected', unexpected),
                        ('Other shapes (checkpoint vs model)', shapes)):
        if keys:
            more = f', ... ({len(keys) - 8} more)' if len(keys) > 8 else ''
            lines.append(f'{title} ({len(keys)}): {", ".join(keys[:8])}{more}')
    lines.append('Use the config the checkpoint was trained with (the one in its work '
                 'folder), or for an exported checkpoint the .py written next to it.')
    raise CheckpointMismatchError('\n'.join(lines))


def init_inference_model(config: Union[str, Config], checkpoint: str, device: str = 'cpu',
                         cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """:func:`~.inference.init_model` with the checks an inference run needs.

    A full checkpoint (``tools/export_full_checkpoint.py``, frozen ViT included) runs
    without the pretrained ViT file: the config's ``backbone.pretrained`` is dropped.

    Args:
        config: the model's config (file or ``Config``).
        checkpoint: a task checkpoint (prompts and heads, the ViT from ``pretrained``)
            or a full one.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ...
        cfg_options: overrides merged into the config (``--cfg-options``).

    Raises:
        ValueError: a CUDA device without CUDA.
        FileNotFoundError: a missing config or checkpoint.
        CheckpointMismatchError: a checkpoint of another model, or a task checkpoint
            on another frozen ViT.
    """
    check_device(device)
    for path in ([config] if isinstance(config, str) else []) + [checkpoint]:
        if not osp.isfile(path):
            raise FileNotFoundError(f'No such file: {path}')
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    state_dict = read_state_dict(checkpoint)
    if any(k.startswith(FROZEN_VIT_PREFIX) for k in state_dict) and cfg.model.get(
            'backbone', {}).get('pretrained'):
        cfg.model.backbone.pretrained = None  # the ViT comes with the checkpoint
    model = init_model(cfg, checkpoint, device)
    check_state_dict(model, state_dict, checkpoint,
                     config if isinstance(config, str) else 'the config')
    return model
