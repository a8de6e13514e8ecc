"""Loading pretrained ViT weights from the formats users have, with a loud key audit.

One function per source format returns a timm ``VisionTransformer`` state dict;
:func:`load_vit_weights` picks the format, resamples position embeddings for the
configured size (timm's own filter does it), audits the keys and loads strictly.
"""
import copy
import os.path as osp
import re
from typing import Callable, Dict, List

import torch
from torch import Tensor, nn

StateDict = Dict[str, Tensor]

# Keys of a pretraining classifier that a backbone legitimately drops.
_CLASSIFIER_KEY = re.compile(r'^(head|pre_logits|fc_norm)(\.|$)')

# mmseg's ``tools/model_converters/vit2mmseg.py`` renames timm keys; this undoes it.
# Order matters: block-level names before the final ``ln1`` -> ``norm``.
_MMSEG_TO_TIMM = (
    (re.compile(r'^layers\.(\d+)\.ln1\.'), r'blocks.\1.norm1.'),
    (re.compile(r'^layers\.(\d+)\.ln2\.'), r'blocks.\1.norm2.'),
    (re.compile(r'^layers\.(\d+)\.attn\.attn\.in_proj_'), r'blocks.\1.attn.qkv.'),
    (re.compile(r'^layers\.(\d+)\.attn\.attn\.out_proj\.'), r'blocks.\1.attn.proj.'),
    (re.compile(r'^layers\.(\d+)\.ffn\.layers\.0\.0\.'), r'blocks.\1.mlp.fc1.'),
    (re.compile(r'^layers\.(\d+)\.ffn\.layers\.1\.'), r'blocks.\1.mlp.fc2.'),
    (re.compile(r'^layers\.'), 'blocks.'),
    (re.compile(r'^ln1\.'), 'norm.'),
    (re.compile(r'^patch_embed\.projection\.'), 'patch_embed.proj.'),
)


class CheckpointMismatchError(KeyError):
    """Raised when a checkpoint's keys do not match the model it is loaded into."""

    def __str__(self) -> str:  # KeyError would print the message with quotes
        return str(self.args[0])


def _unwrap(checkpoint: dict) -> StateDict:
    """The tensor dict inside common checkpoint wrappers (``state_dict``, ``model``)."""
    for key in ('state_dict', 'model', 'module'):
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
    return checkpoint


def _strip_prefix(state_dict: StateDict, prefix: str) -> StateDict:
    if state_dict and all(k.startswith(prefix) for k in state_dict):
        return {k[len(prefix):]: v for k, v in state_dict.items()}
    if any(k.startswith(prefix) for k in state_dict):  # a whole segmentor: keep the backbone
        return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    return state_dict


def is_mmseg_layout(state_dict: StateDict) -> bool:
    """Whether keys follow mmseg's ViT naming (``layers.N.ffn...``), not timm's."""
    return any(k.startswith('layers.') or k.startswith('patch_embed.projection')
               for k in state_dict)


def mmseg_to_timm(state_dict: StateDict) -> StateDict:
    """Rename the keys of a ViT converted with mmseg's ``vit2mmseg`` back to timm's."""
    renamed = {}
    for key, value in state_dict.items():
        for pattern, replacement in _MMSEG_TO_TIMM:
            key, count = pattern.subn(replacement, key)
            if count:
                break
        renamed[key] = value
    return renamed


def load_torch_file(path: str) -> StateDict:
    """A timm state dict from a ``.pth``/``.pt``/``.bin`` file (timm or mmseg layout)."""
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    state_dict = _strip_prefix(_unwrap(checkpoint), 'backbone.')
    state_dict = _strip_prefix(state_dict, 'module.')
    return mmseg_to_timm(state_dict) if is_mmseg_layout(state_dict) else state_dict


def load_safetensors_file(path: str) -> StateDict:
    """A timm state dict from a ``.safetensors`` file (as timm and the HF hub ship)."""
    from safetensors.torch import load_file
    state_dict = _strip_prefix(load_file(path, device='cpu'), 'backbone.')
    return mmseg_to_timm(state_dict) if is_mmseg_layout(state_dict) else state_dict


def load_npz_file(path: str, vit: nn.Module) -> StateDict:
    """A timm state dict from Google's JAX ``.npz`` (e.g. ``imagenet21k_ViT-B_16.npz``).

    timm's ``load_pretrained`` reads every Google layout; it writes into a model, so it
    runs on a NaN-filled copy of ``vit`` and any tensor it did not fill is reported
    missing.
    """
    scratch = copy.deepcopy(vit)
    with torch.no_grad():
        for tensor in scratch.state_dict().values():
            if tensor.is_floating_point():
                tensor.fill_(float('nan'))
    try:
        scratch.load_pretrained(path)
    except KeyError as err:
        raise CheckpointMismatchError(
            f'{path} lacks the key {err} that a {type(vit).__name__} of this architecture '
            'needs: is it the checkpoint of another model size or patch size?') from None
    state_dict = scratch.state_dict()
    unfilled = [k for k, v in state_dict.items()
                if v.is_floating_point() and torch.isnan(v).any()]
    for key in unfilled:
        del state_dict[key]
    return state_dict


def check_dinov2_registers(state_dict: StateDict, vit: nn.Module, source: str) -> None:
    """Meta's DINOv2 layout (it has ``mask_token``): registers in the file iff in ``vit``.

    timm's filter would otherwise fail deep inside the position-embedding resampling.
    """
    if 'mask_token' not in state_dict:
        return
    has = 'register_tokens' in state_dict
    wants = getattr(vit, 'reg_token', None) is not None
    if has != wants:
        raise CheckpointMismatchError(
            f'{source} is a DINOv2 checkpoint in Meta\'s layout {"with" if has else "without"} '
            f'register tokens, but the backbone {"has" if wants else "has no"} reg_token. '
            f'Use a timm arch {"with" if has else "without"} registers (e.g. '
            f'{"vit_base_patch14_reg4_dinov2" if has else "vit_base_patch14_dinov2"}).')


def audit_keys(state_dict: StateDict, model: nn.Module, source: str) -> None:
    """Fail loudly on missing or unexpected backbone keys, naming them.

    Only the pretraining classifier (``head``, ``pre_logits``, ``fc_norm``) may be
    dropped; a backbone must be complete.
    """
    expected = set(model.state_dict())
    given = {k for k in state_dict if not (_CLASSIFIER_KEY.match(k) and k not in expected)}
    missing = sorted(expected - given)
    unexpected = sorted(given - expected)
    if missing or unexpected:
        lines = [f'The checkpoint {source} does not match the backbone '
                 f'({type(model).__name__}, {len(expected)} tensors).']
        if missing:
            lines.append(f'Missing keys ({len(missing)}): {_short_list(missing)}')
        if unexpected:
            lines.append(f'Unexpected keys ({len(unexpected)}): {_short_list(unexpected)}')
        lines.append('Check that `arch` names the architecture the checkpoint was trained '
                     'with (size, patch size, class token) and that the file is a ViT.')
        raise CheckpointMismatchError('\n'.join(lines))


def _short_list(keys: List[str], limit: int = 12) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys) - limit} more)' if len(keys) > limit else '')


def load_vit_weights(vit: nn.Module, path: str) -> None:
    """Load a pretrained checkpoint of any supported format into a timm ViT, strictly.

    Args:
        vit: a timm ``VisionTransformer``.
        path: a ``.pth``/``.pt``/``.bin`` (timm, mmseg or Meta's DINOv2 layout),
            ``.safetensors`` or Google ``.npz`` file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointMismatchError: keys are missing or unexpected.
    """
    from timm.models.vision_transformer import checkpoint_filter_fn

    if not osp.isfile(path):
        raise FileNotFoundError(
            f'Pretrained ViT weights not found: {path!r}. Set `pretrained` (in configs: '
            '`pretrained = ...` at the top) to a local .pth/.safetensors/.npz file, or '
            'to None to start from random weights.')
    suffix = osp.splitext(path)[1].lower()
    readers: Dict[str, Callable[[str], StateDict]] = {
        '.npz': lambda p: load_npz_file(p, vit),
        '.safetensors': load_safetensors_file,
    }
    state_dict = readers.get(suffix, load_torch_file)(path)
    if suffix != '.npz':  # timm resamples position and patch embeddings to this model
        check_dinov2_registers(state_dict, vit, path)  # and converts Meta's DINOv2 layout
        state_dict = checkpoint_filter_fn(state_dict, vit)
    audit_keys(state_dict, vit, path)
    state_dict = {k: v for k, v in state_dict.items() if k in vit.state_dict()}
    vit.load_state_dict(state_dict, strict=True)
