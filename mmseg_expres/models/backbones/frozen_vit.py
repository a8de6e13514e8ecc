"""What every prompt-tuning backbone here shares: a wrapped, frozen, fingerprinted timm ViT."""
import contextlib
import hashlib
import re
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor, nn

from .arguments import FINAL_NORMS, READOUTS, TUNING_METHOD_KEYS, check_choice
from .vit_weights import CheckpointMismatchError, load_vit_weights


def create_timm_vit(arch: str, img_size: Union[int, Tuple[int, int]],
                    vit_cfg: Optional[dict] = None) -> nn.Module:
    """A randomly initialised timm ``VisionTransformer`` that accepts any input size.

    Args:
        arch: a timm model name such as ``vit_base_patch16_224`` (``test_vit`` is timm's
            tiny test model).
        img_size: the size the position embeddings are laid out for; other sizes are
            resampled on the fly (timm's ``dynamic_img_size``), and sizes that are not a
            multiple of the patch are padded (``dynamic_img_pad``).
        vit_cfg: extra keywords for ``timm.create_model`` (e.g. ``depth``).
    """
    import timm
    from timm.layers import Attention
    from timm.models.vision_transformer import Block, VisionTransformer

    if not timm.is_model(arch):
        similar = timm.list_models('*vit*')[:8]
        raise ValueError(f'timm does not know the architecture {arch!r}. Use a timm ViT '
                         f'name such as {", ".join(similar)}, ... (timm.list_models("vit_*")).')
    kwargs = dict(pretrained=False, num_classes=0, img_size=img_size, dynamic_img_size=True,
                  dynamic_img_pad=True, drop_rate=0.0, drop_path_rate=0.0)
    kwargs.update(vit_cfg or {})
    vit = timm.create_model(arch, **kwargs)
    if not isinstance(vit, VisionTransformer) or not all(
            type(b) is Block and type(b.attn) is Attention and b.attn.gate is None
            for b in vit.blocks):
        raise ValueError(f'{arch!r} is not a plain timm VisionTransformer with pre-norm '
                         'Blocks; EXPRES needs timm.models.vision_transformer.Block.')
    return vit


#: (ViT, task name) that backbones built inside :func:`sharing_vit` take: the ViT instead
#: of their own (None: their own), the name for what they add to it (LoRA's adapter).
_SHARED_VITS: List[Tuple[Optional[nn.Module], Optional[str]]] = []


@contextlib.contextmanager
def sharing_vit(vit: Optional[nn.Module], task: Optional[str] = None):
    """Backbones built inside this block take ``vit`` (already loaded) as their ViT
    instead of creating one and loading ``pretrained``: many task models on one frozen
    ViT in memory (``apis.init_multi_task``). The caller sees that their configs build
    this very ViT (same backbone config); each backbone's fingerprint check still
    compares its checkpoint with it.

    Args:
        vit: the shared ViT; None: backbones built inside create their own again (a
            skeleton built while a ViT is shared must not add its adapters to it).
        task: the task whose backbone is built: a method that puts its tensors into the
            ViT (LoRA) adds them under this name (``PeftViT``), beside other tasks'.
    """
    _SHARED_VITS.append((vit, task))
    try:
        yield vit
    finally:
        _SHARED_VITS.pop()


def check_block_indices(name: str, indices: Sequence[int], depth: int) -> Tuple[int, ...]:
    """``indices`` as a tuple, or a ValueError unless distinct, ascending, in ``[0, depth)``."""
    bad = [i for i in indices if not isinstance(i, int) or not 0 <= i < depth]
    if bad or list(indices) != sorted(set(indices)):
        raise ValueError(f'{name} {tuple(indices)} must be distinct, ascending block indices '
                         f'in [0, {depth - 1}] (the ViT has depth {depth}); bad: {bad}.')
    return tuple(indices)


def readout_feature(readout: str, tokens: Optional[Tensor], final_image: Optional[Tensor],
                    norm: nn.Module) -> Tensor:
    """The classification feature of method section 5, from the ViT's final states.

    Args:
        readout: ``'mean'`` (B, d) or ``'concat'`` (B, K*d) of the normed output tokens,
            or ``'cls'`` (B, d), the normed class token.
        tokens: (B, K, d) final output-token (prompt) states, before the final norm.
        final_image: (B, P + N, d) final image rows; row 0 is the class token.
        norm: the ViT's final LayerNorm.
    """
    check_choice('readout', readout, READOUTS)
    if readout == 'cls':
        return norm(final_image[:, 0])
    normed = norm(tokens)
    return normed.mean(dim=1) if readout == 'mean' else normed.flatten(1)


#: The parts of a timm ViT before its blocks (token embedding); an output that reads any
#: block reads them. Other parts outside the blocks (timm's ``fc_norm``, ``attn_pool``,
#: ``head``) are never applied here.
EMBEDDING_PARTS = ('cls_token', 'reg_token', 'pos_embed', 'patch_embed', 'norm_pre')


def plain_vit_key(key: str) -> str:
    """The timm key of a ViT tensor whose layer an adapter wraps (peft's ``base_layer``)."""
    return key.replace('.base_layer.', '.')


def tuning_method(state_dict: dict, prefix: str) -> Tuple[str, str]:
    """(method, an example key) of the tuned tensors in a backbone's ``state_dict``.

    Keys are read below ``prefix``; empty tensors (K = 0 prompts) do not count. A
    backbone with none of :data:`TUNING_METHOD_KEYS` gives ``('no prompts or adapters',
    '')`` (linear probe, bias tuning, fine-tuning, a merged export).
    """
    names = [k[len(prefix):] for k, v in state_dict.items()
             if k.startswith(prefix) and v.numel()]
    for method, pattern in TUNING_METHOD_KEYS:
        found = [n for n in names if re.search(pattern, n)]
        if found:
            return method, found[0]
    return 'no prompts or adapters', ''


def drop_path_modules(vit: nn.Module) -> List[nn.Module]:
    """The ViT's drop-path modules (timm builds them for ``drop_path_rate > 0`` only)."""
    from timm.layers import DropPath
    return [m for m in vit.modules() if isinstance(m, DropPath)]


def _vit_part(name: str) -> str:
    """The part of the ViT a parameter belongs to, for messages: ``blocks.3``, ``norm``."""
    parts = name.split('.')
    return '.'.join(parts[:2]) if parts[0] == 'blocks' else parts[0]


class FrozenViTBackbone(BaseModule):
    """A timm ViT wrapped (not subclassed), loaded strictly, frozen and fingerprinted.

    Subclasses add their trainable parameters, then call :meth:`finish_setup`.

    * Frozen: ``requires_grad=False`` on every ViT parameter (but its biases with
      ``tune_bias``), and the ViT stays in eval mode under ``train()`` (no dropout), but
      for its drop-path where ``vit_cfg`` asks for one (``drop_path_rate``, NOAH's
      protocol); only backbones that run timm's ``Block.forward``
      (:attr:`runs_timm_blocks`) apply it, others refuse it.
    * Only what an output reads trains (:meth:`reads_vit_parameter`): the final norm
      only where an output applies it, no block after the last one an output reads.
      A tensor that trains without reaching the loss never gets a gradient, and
      ``MMDistributedDataParallel`` (``find_unused_parameters=False``) stops at the
      second iteration. Which ViT tensors the method tunes and which of them train is
      fixed when the backbone is built (:meth:`finish_setup`), not read from the live
      ``requires_grad``: freezing the model (``requires_grad_(False)``) changes neither
      what a task checkpoint holds nor the fingerprint.
    * ``init_weights`` is the subclass's and must not recurse into ``self.vit``: timm's
      own ``init_weights`` would wipe the pretrained weights.
    * ``frozen_fingerprint_buffer`` (8 bytes of SHA-256 of the ViT) travels in every
      checkpoint; loading one onto a ViT with other weights raises
      :class:`CheckpointMismatchError`, and a checkpoint without the ViT (a task
      checkpoint) loads without "missing keys" once the fingerprint matches. ViT tensors
      the method tunes (``tune_bias``; LoRA, AdaptFormer, SSF in :class:`PeftViT`) are
      left out of the fingerprint; those of them that train
      (:meth:`trainable_vit_keys`) are kept in task checkpoints; a checkpoint of another
      tuning method (:func:`tuning_method`) raises :class:`CheckpointMismatchError`.

    Outputs (:meth:`assemble_outputs`): the NCHW maps of ``out_indices``, then the normed
    final prompt states (B, K, d) if ``output_tokens``, then the (B, C) ``readout``.

    Args:
        arch, img_size, vit_cfg: see :func:`create_timm_vit`.
        pretrained: ViT weights to load (see :func:`load_vit_weights`), or None.
        out_indices: absolute block indices whose patch tokens are returned as NCHW maps.
        final_norm: apply the ViT's final LayerNorm to the map of the last block;
            ``'all'``: to every map (as DINOv2's segmentation probes read the ViT).
        readout: None, or a classification feature from :data:`READOUTS`
            (:func:`readout_feature`).
        output_tokens: also return the normed final prompt states.
        frozen: False only for the fine-tuning baseline.
        tune_bias: train the ViT's biases, nothing else of it (BitFit, Ben Zaken et al.,
            ACL 2022; VPT's "bias" baseline).
        init_cfg: must be None (the ViT comes from ``pretrained``).
    """

    #: Whether the subclass runs timm's ``Block.forward``, which applies the blocks'
    #: drop-path (VPTViT, PeftViT); ExpresViT's blocks (``expres_block``) do not.
    runs_timm_blocks = False

    def __init__(self, arch: str, img_size: Union[int, Tuple[int, int]],
                 pretrained: Optional[str], out_indices: Sequence[int],
                 final_norm: Union[bool, str],
                 readout: Optional[str] = None, output_tokens: bool = False,
                 frozen: bool = True, vit_cfg: Optional[Dict[str, Any]] = None,
                 init_cfg: Optional[dict] = None, tune_bias: bool = False) -> None:
        if init_cfg is not None:
            raise ValueError(f'{type(self).__name__} loads its ViT from `pretrained` and '
                             'initialises only its prompts; remove `init_cfg` from the '
                             'backbone config.')
        check_choice('final_norm', final_norm, FINAL_NORMS)
        super().__init__(init_cfg=None)
        shared, task = _SHARED_VITS[-1] if _SHARED_VITS else (None, None)
        #: whether the ViT is shared (:func:`sharing_vit`), and the task served on it
        self.shares_vit = shared is not None
        self.shared_task = task if self.shares_vit else None
        self.vit = shared if shared is not None else create_timm_vit(arch, img_size, vit_cfg)
        if drop_path_modules(self.vit) and not self.runs_timm_blocks:
            raise ValueError(f'{type(self).__name__} runs its own blocks, which apply no '
                             'drop-path: vit_cfg drop_path_rate would do nothing. Remove '
                             'it, or use a backbone that runs timm\'s blocks (VPTViT, '
                             'PeftViT).')
        self.depth = len(self.vit.blocks)
        self.out_indices = check_block_indices('out_indices', out_indices, self.depth)
        if pretrained is not None and shared is None:
            load_vit_weights(self.vit, pretrained)
        self.arch = arch
        self.final_norm = final_norm
        self.readout = readout
        self.output_tokens = output_tokens
        self.frozen = frozen
        self.tune_bias = tune_bias
        self.embed_dim = self.vit.embed_dim
        self.num_prefix_tokens = self.vit.num_prefix_tokens
        # set by finish_setup (record_tuned_vit_keys), once the method's tensors are in
        self._tuned_vit_keys: FrozenSet[str] = frozenset()
        self._trainable_vit_keys: FrozenSet[str] = frozenset()

    def finish_setup(self, description: str) -> None:
        """Initialise the trainable parameters, freeze the ViT, log the counts."""
        self.init_weights()
        unread = self.record_tuned_vit_keys()
        if self.frozen:
            self.vit.eval()
            self.register_buffer('frozen_fingerprint_buffer', self.frozen_fingerprint())
            self.register_load_state_dict_pre_hook(self._remember_load_prefix)
            self.register_load_state_dict_post_hook(self._check_fingerprint)
        trainable, total = self.num_trainable_params()
        print_log(f'{type(self).__name__}({self.arch}, {description}): {trainable:,} '
                  f'trainable of {total:,} parameters ({100.0 * trainable / total:.3f}%)'
                  + (f'; frozen because no output reads them: {", ".join(unread)}'
                     if unread else ''), logger='current')

    def record_tuned_vit_keys(self) -> List[str]:
        """Fix which ViT tensors the method tunes and which of them train; set
        ``requires_grad`` to match. Returns the parts tuned but frozen, unread.

        Tuned: every ViT parameter when fine-tuning, else :meth:`tunes_vit_parameter`.
        Trained: the tuned ones some output reads (:meth:`reads_vit_parameter`).
        """
        names = [name for name, _ in self.vit.named_parameters()]
        tuned = frozenset(n for n in names if not self.frozen or self.tunes_vit_parameter(n))
        self._tuned_vit_keys = tuned
        self._trainable_vit_keys = frozenset(n for n in tuned if self.reads_vit_parameter(n))
        for name, param in self.vit.named_parameters():
            param.requires_grad_(name in self._trainable_vit_keys)
        return sorted({_vit_part(n) for n in tuned - self._trainable_vit_keys},
                      key=lambda part: (part.count('.'), len(part), part))

    def train(self, mode: bool = True) -> 'FrozenViTBackbone':
        """Set train mode on the prompts; a frozen ViT stays in eval (no dropout), but
        for its drop-path, if it has one (``vit_cfg`` ``drop_path_rate``)."""
        super().train(mode)
        if self.frozen:
            self.vit.eval()
            for module in drop_path_modules(self.vit):
                module.train(mode)
        return self

    def num_trainable_params(self) -> Tuple[int, int]:
        """(trainable, total) parameter counts of this backbone."""
        params = list(self.parameters())
        return (sum(p.numel() for p in params if p.requires_grad),
                sum(p.numel() for p in params))

    def tunes_vit_parameter(self, name: str) -> bool:
        """Whether the frozen ViT's parameter ``name`` is one the method tunes (its biases
        with ``tune_bias``); it trains where an output reads it.

        Subclasses that put tuned tensors inside the ViT (LoRA, SSF) extend this.
        """
        return self.tune_bias and name.endswith('bias')

    def last_read_block(self) -> int:
        """The last block some output depends on (-1: none).

        Output tokens and readouts come out of the last block; maps alone, out of the
        last of ``out_indices``, and the blocks after it change no output.
        """
        if self.output_tokens or self.readout is not None:
            return self.depth - 1
        return self.out_indices[-1] if self.out_indices else -1

    def normed_maps(self) -> Tuple[int, ...]:
        """Positions in ``out_indices`` of the maps the final norm is applied to."""
        if self.final_norm == 'all':  # DINOv2's get_intermediate_layers(norm=True)
            return tuple(range(len(self.out_indices)))
        if self.final_norm and self.out_indices and self.out_indices[-1] == self.depth - 1:
            return (len(self.out_indices) - 1,)
        return ()

    def reads_vit_parameter(self, name: str) -> bool:
        """Whether some output depends on the ViT's parameter ``name``.

        The embedding whenever a block is read; a block up to :meth:`last_read_block`;
        the final norm where token outputs, a readout or a normed map apply it.
        """
        part, _, rest = name.partition('.')
        if part == 'blocks':
            return int(rest.partition('.')[0]) <= self.last_read_block()
        if part == 'norm':
            return bool(self.output_tokens or self.readout is not None or self.normed_maps())
        return part in EMBEDDING_PARTS and self.last_read_block() >= 0

    @property
    def vit_trains(self) -> bool:
        """Whether a gradient must reach ViT parameters (fine-tuning, bias tuning)."""
        return not self.frozen or bool(self._trainable_vit_keys)

    def trainable_vit_keys(self) -> Set[str]:
        """State-dict keys (relative to ``vit.``) of the ViT tensors that train.

        Fixed when the backbone is built (:meth:`record_tuned_vit_keys`) from the method
        and the outputs, whatever ``requires_grad`` says later: this is what a task
        checkpoint holds and must hold.
        """
        return set(self._trainable_vit_keys)

    def frozen_vit_keys(self) -> Set[str]:
        """State-dict keys (relative to ``vit.``) of the ViT tensors the method does not
        tune: the pretrained weights, which the fingerprint covers, a self-contained
        checkpoint holds and a task checkpoint leaves out.

        A tensor the method tunes but no output reads (SSF's scale of an unapplied final
        norm) is in neither this set nor :meth:`trainable_vit_keys`: it stays at its
        initial value, changes no output, and no checkpoint needs it.
        """
        return {key for key in self.vit.state_dict() if key not in self._tuned_vit_keys}

    # ------------------------------------------------------------ fingerprint
    def frozen_fingerprint(self) -> Tensor:
        """First 8 bytes of the SHA-256 of the frozen ViT tensors, as (8,) uint8.

        The tensors the method tunes are left out, those that train and those frozen
        because no output reads them (their values change nothing).
        """
        digest = hashlib.sha256()
        state = self.vit.state_dict()
        for key in sorted(self.frozen_vit_keys()):
            tensor = state[key]
            if tensor.is_meta:
                return torch.zeros(8, dtype=torch.uint8)
            # a layer wrapped by an adapter hashes as the plain one, so that a checkpoint
            # of another method on the same ViT is named as such, not as another ViT
            digest.update(plain_vit_key(key).encode())
            digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy())
        return torch.frombuffer(bytearray(digest.digest()[:8]), dtype=torch.uint8)

    def _remember_load_prefix(self, module: nn.Module, state_dict: dict, prefix: str,
                              *args) -> None:
        """Pre-load hook: note where this module sits and whether the ViT comes along."""
        self.adapt_loaded_keys(state_dict, prefix)
        self._load_prefix = prefix
        self._loads_vit = any(prefix + 'vit.' + key in state_dict
                              for key in self.frozen_vit_keys())
        if prefix + 'frozen_fingerprint_buffer' in state_dict:  # one of our backbones
            self.check_tuning_method(state_dict, prefix)

    def adapt_loaded_keys(self, state_dict: dict, prefix: str) -> None:
        """Rename, in place, the keys of a checkpoint loaded into this backbone (under
        ``prefix``) to this backbone's own names; nothing here. A parent's strict check
        (``models/task_loading.py``) calls it before comparing keys, as the backbone's
        load pre-hook does; it must do nothing to keys already renamed."""

    def check_tuning_method(self, state_dict: dict, prefix: str) -> None:
        """A checkpoint of one tuning method (LoRA, EXPRES, ...) must meet the same method."""
        theirs = tuning_method(state_dict, prefix)
        ours = tuning_method(self.state_dict(), '')
        if theirs[0] != ours[0]:  # the method; its example key may differ
            raise CheckpointMismatchError(
                f'This checkpoint was trained with {theirs[0]} (e.g. {prefix}{theirs[1]}), '
                f'but the config builds {type(self).__name__} with {ours[0]}'
                f'{" (e.g. " + ours[1] + ")" if ours[1] else ""}. Load it with the config it '
                'was trained with.')

    def _check_fingerprint(self, module: nn.Module, incompatible_keys) -> None:
        """Post-load hook: a task checkpoint must meet the frozen ViT it was trained with."""
        expected = self.frozen_fingerprint_buffer.cpu().numpy().tobytes().hex()
        actual = self.frozen_fingerprint().numpy().tobytes().hex()
        if expected != actual:
            raise CheckpointMismatchError(
                f'This checkpoint was trained on a frozen ViT with fingerprint {expected}, '
                f'but the backbone here ({self.arch}, pretrained from the config) has '
                f'{actual}. Set model.backbone.pretrained to the file the checkpoint was '
                'trained with, or use a self-contained checkpoint '
                '(tools/export_full_checkpoint.py).')
        if not getattr(self, '_loads_vit', True):
            # the frozen tensors come from `pretrained`; trainable ones must be there
            vit_prefix = getattr(self, '_load_prefix', '') + 'vit.'
            trainable = {vit_prefix + key for key in self.trainable_vit_keys()}
            incompatible_keys.missing_keys[:] = [
                k for k in incompatible_keys.missing_keys
                if not k.startswith(vit_prefix) or k in trainable]

    # ---------------------------------------------------------------- forward
    def embed_images(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B, P + N, d): prefix tokens and patches with position embedding."""
        vit = self.vit
        return vit.norm_pre(vit.patch_drop(vit._pos_embed(vit.patch_embed(images))))

    def assemble_outputs(self, image_states: List[Tensor], images: Tensor,
                         final_image: Optional[Tensor],
                         tokens: Optional[Tensor]) -> Tuple[Tensor, ...]:
        """The backbone's outputs from the states of a forward pass.

        Args:
            image_states: image rows (B, P + N, d) of the ``out_indices`` blocks.
            images: (B, 3, H, W) the input, for the map size.
            final_image: the last block's image rows, or None where nothing reads them.
            tokens: (B, K, d) final prompt states before the final norm, or None.

        Returns:
            ``len(out_indices)`` maps (B, d, H/p, W/p), then the normed prompt states
            (B, K, d) if ``output_tokens``, then the (B, C) readout if ``readout``.
        """
        outs: List[Tensor] = self.image_maps(image_states, images)
        if self.output_tokens:
            outs.append(self.vit.norm(tokens))
        if self.readout is not None:
            outs.append(readout_feature(self.readout, tokens, final_image, self.vit.norm))
        return tuple(outs)

    def image_maps(self, image_states: List[Tensor], images: Tensor) -> List[Tensor]:
        """Image rows (B, P + N, d) of the ``out_indices`` blocks -> (B, d, H/p, W/p) maps.

        Prefix tokens are dropped; ``final_norm`` normalises the last block's map
        (``'all'``: every map).
        """
        grid = self.vit.patch_embed.dynamic_feat_size(images.shape[-2:])
        normed = self.normed_maps()
        maps = []
        for position, state in enumerate(image_states):
            if position in normed:
                state = self.vit.norm(state)
            patches = state[:, self.num_prefix_tokens:]
            maps.append(patches.transpose(1, 2).reshape(patches.shape[0], -1, *grid)
                        .contiguous())
        return maps
