"""Strict loading of task checkpoints: every tensor the task trained must be there and fit.

MMEngine loads checkpoints with ``strict=False`` (``tools/test.py``, ``--resume``, mmseg's
and mmpretrain's ``init_model``, the inferencers), so a head trained for another class
count is only logged ("size mismatch for head.fc.weight") and the run scores a random
head. The segmentor or classifier that holds a frozen-ViT backbone is built by mmseg or
mmpretrain, not here, so the check attaches itself through torch's module-registration
hook: every module that gets a :class:`FrozenViTBackbone` (or a module holding one) as a
child gets a load pre-hook that compares the incoming state dict with its own before any
tensor is copied. Frozen ViT tensors may be absent (task checkpoints leave them out; the
backbone's fingerprint checks them); every other tensor must be present with its shape,
and the checkpoint may hold no tensor that the model lacks. This is the one strictness
rule: ``tools/test.py``, ``--resume``, ``mmseg_expres.apis.init_model`` (and so
``tools/infer.py``, the web page, the export and few-shot tools) and the stock mmseg and
mmpretrain APIs all load through it.
"""
from typing import Dict, List, Optional, Set, Tuple

from torch import nn
from torch.nn.modules.module import register_module_module_registration_hook

from .backbones.frozen_vit import FrozenViTBackbone
from .backbones.vit_weights import CheckpointMismatchError

#: Marks a module that checks what is loaded into it (and so must its parents).
_CHECKED = '_task_checkpoint_checked'
MAX_SHOWN = 5


def frozen_vits(model: nn.Module) -> Dict[str, Set[str]]:
    """Prefix of each frozen ViT in ``model`` -> full keys of its trainable tensors."""
    found = {}
    for name, module in model.named_modules():
        if isinstance(module, FrozenViTBackbone) and module.frozen:
            prefix = f'{name}.vit.' if name else 'vit.'
            found[prefix] = {prefix + key for key in module.trainable_vit_keys()}
    return found


def trained_keys(model: nn.Module) -> Set[str]:
    """State-dict keys of ``model`` that a task checkpoint must hold: all but frozen ViTs.

    BatchNorm's ``num_batches_tracked`` is left out, as MMEngine leaves it out.
    """
    vits = frozen_vits(model)
    prefixes = tuple(vits)
    trainable = set().union(*vits.values())
    return {k for k in model.state_dict()
            if not k.endswith('num_batches_tracked')
            and (not prefixes or not k.startswith(prefixes) or k in trainable)}


def likely_cause(key: str, found: Optional[Tuple[int, ...]], wanted: Tuple[int, ...]) -> str:
    """A guess, from the tensor's name and shapes, at why a checkpoint does not fit."""
    head = key.split('.')[0] in ('head', 'decode_head', 'auxiliary_head')
    if found == wanted == ():  # a tensor the model does not have
        return ('the checkpoint was trained with another head, neck or method (another '
                'config)')
    if found is None:
        return ('the checkpoint was trained with another method or head (another config), '
                'or is not a checkpoint of this model')
    if head and found[1:] == wanted[1:] and found[:1] != wanted[:1]:
        return (f'the class count: the checkpoint\'s head has {found[0]} classes, this '
                f'config\'s {wanted[0]} (another data set, or num_classes / dataset / '
                'custom_num_classes / task set differently)')
    if key.split('.')[0] == 'backbone':
        return ('the backbone: another ViT size or prompt settings (arch, num_tokens, '
                'residual sites or layers)')
    return 'the head or neck: another head type, channel count or ViT width'


def mismatches(model: nn.Module, state_dict: dict, prefix: str = '') -> List[str]:
    """One line per tensor of ``state_dict`` that ``model`` cannot take as it is: a trained
    tensor missing, one the model does not have, or one of another shape."""
    own = model.state_dict()
    problems = []
    for key in sorted(trained_keys(model)):
        if prefix + key not in state_dict:
            wanted = tuple(own[key].shape)
            problems.append(f'{prefix + key}: missing from the checkpoint, the model has '
                            f'{wanted}; likely cause: {likely_cause(key, None, wanted)}')
    for key in sorted(k for k in state_dict if k.startswith(prefix)
                      and k[len(prefix):] not in own):
        problems.append(f'{key}: in the checkpoint, not in the model; likely cause: '
                        f'{likely_cause(key[len(prefix):], (), ())}')
    for key, tensor in own.items():
        value = state_dict.get(prefix + key)
        if value is not None and hasattr(value, 'shape') and value.shape != tensor.shape:
            found, wanted = tuple(value.shape), tuple(tensor.shape)
            problems.append(f'{prefix + key}: shape {found} in the checkpoint, {wanted} in '
                            f'the model; likely cause: {likely_cause(key, found, wanted)}')
    return problems


def _adapt_keys(module: nn.Module, state_dict: dict, prefix: str) -> None:
    """Let each frozen-ViT backbone rename the keys it is given to its own names (a LoRA
    task's adapter on a shared ViT), before they are compared with the model's."""
    for name, sub in module.named_modules():
        if isinstance(sub, FrozenViTBackbone):
            sub.adapt_loaded_keys(state_dict, f'{prefix}{name}.' if name else prefix)


def _check_tuning_methods(module: nn.Module, state_dict: dict, prefix: str) -> None:
    """A checkpoint of another tuning method (LoRA into EXPRES, ...) is named as such,
    before its tensors are reported one by one as missing."""
    for name, sub in module.named_modules():
        where = f'{prefix}{name}.' if name else prefix
        if (isinstance(sub, FrozenViTBackbone)
                and where + 'frozen_fingerprint_buffer' in state_dict):
            sub.check_tuning_method(state_dict, where)


def _check_before_loading(module: nn.Module, state_dict: dict, prefix: str, *args) -> None:
    """Load pre-hook: refuse a state dict of another tuning method, or one that misses
    or misfits a trained tensor."""
    _adapt_keys(module, state_dict, prefix)
    _check_tuning_methods(module, state_dict, prefix)
    problems = mismatches(module, state_dict, prefix)
    if problems:
        shown = '\n  '.join(problems[:MAX_SHOWN])
        more = f'\n  ... ({len(problems)} in all)' if len(problems) > MAX_SHOWN else ''
        raise CheckpointMismatchError(
            f'The checkpoint does not fit this model ({len(problems)} tensor(s)):\n  '
            f'{shown}{more}\nTest and resume with the config the checkpoint was trained '
            'with (its work dir holds a copy), or train this config.')


def _attach_check(parent: nn.Module, name: str, child: Optional[nn.Module]) -> None:
    """Module-registration hook: a parent of a frozen-ViT backbone checks its loads."""
    if child is None or getattr(parent, _CHECKED, False):
        return
    if isinstance(child, FrozenViTBackbone) or getattr(child, _CHECKED, False):
        parent.register_load_state_dict_pre_hook(_check_before_loading)
        object.__setattr__(parent, _CHECKED, True)


register_module_module_registration_hook(_attach_check)
