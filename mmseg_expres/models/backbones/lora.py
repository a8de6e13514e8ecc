"""LoRA on a frozen timm ViT through Hugging Face ``peft`` (Hu et al., ICLR 2022).

``peft.inject_adapter_in_model`` replaces each targeted ``nn.Linear`` by peft's LoRA
layer: ``W x + (alpha / r) * B A dropout(x)``, with A (r, in) Kaiming-uniform and B
(out, r) zero, so training starts from the frozen ViT. The frozen layer stays inside as
``base_layer``; :func:`merge_lora` folds ``B A`` into it and puts the plain layer back.

The dropout on the input of ``A`` is that of NOAH's LoRA baseline (github.com/
ZhangYuanhan-AI/NOAH, commit e9c55f3: ``supernet_train_prompt.py`` ``--drop_rate_LoRA``
default 0.1, which ``configs/LoRA/VTAB/slurm_train_lora_vtab.sh`` keeps;
``model/supernet_vision_transformer_timm.py`` ``Attention.forward`` computes
``LoRA_b(LoRA_a(LoRA_drop(x)))``, peft's order too).

Many tasks on one ViT (``apis.init_multi_task``): each task's LoRA is a peft adapter of
its own name in the same LoRA layers, and a batch mixing tasks runs through peft's
mixed-adapter batch (:func:`adapter_per_sample`).
"""
import contextlib
import re
import warnings
from functools import partial
from typing import Iterator, List, Optional, Sequence, Set, Tuple

from torch import nn

from .arguments import check_dropout

#: The adapter name peft gives the one LoRA adapter here (keys ``...lora_A.default...``):
#: every task checkpoint holds its LoRA under it.
ADAPTER_NAME = 'default'
#: peft's name, in ``adapter_names=``, for "the ViT without any adapter".
PEFT_BASE_NAME = '__base__'
_ADAPTER_KEY = re.compile(r'\.lora_[AB]\.([^.]+)\.')


def _block_linears(vit: nn.Module) -> List[Tuple[str, nn.Module]]:
    """(path below ``blocks``, layer) of the blocks' linear layers. A layer peft wrapped
    (it holds other tasks' adapters) counts as the layer it wraps; its parts do not."""
    from peft.tuners.lora import LoraLayer
    wrapped = tuple(f'{name}.' for name, module in vit.blocks.named_modules()
                    if isinstance(module, LoraLayer))
    return [(name, module) for name, module in vit.blocks.named_modules()
            if isinstance(module, (nn.Linear, LoraLayer)) and not name.startswith(wrapped)]


def lora_target_choices(vit: nn.Module) -> List[str]:
    """The names LoRA can target: the linear layers of a block (timm: qkv, proj, fc1, fc2)."""
    return sorted({name.rpartition('.')[2] for name, _ in _block_linears(vit)})


def lora_target_paths(vit: nn.Module, targets: Sequence[str], rank: int) -> List[str]:
    """Module paths of ``targets`` in every block, after checking targets and rank.

    Raises:
        ValueError: a target that names no linear layer of a block, or a rank that is
            not in ``[1, min(in, out)]`` of every targeted layer.
    """
    choices = lora_target_choices(vit)
    unknown = [t for t in targets if t not in choices]
    if unknown or not targets or len(set(targets)) != len(targets):
        raise ValueError(f'lora_targets {tuple(targets)} must be distinct names of linear '
                         f'layers in the ViT blocks; {unknown or "none"} match no module. '
                         f'Choose from {tuple(choices)}.')
    paths = [f'blocks.{name}' for name, _ in _block_linears(vit)
             if name.rpartition('.')[2] in targets]
    largest = min(min(vit.get_submodule(p).in_features, vit.get_submodule(p).out_features)
                  for p in paths)
    if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= largest:
        raise ValueError(f'lora_rank must be an integer in [1, {largest}] (the smallest side '
                         f'of the targeted layers {tuple(targets)}), got {rank!r}.')
    return paths


def add_lora(vit: nn.Module, targets: Sequence[str], rank: int, alpha: float,
             dropout: float, adapter_name: str = ADAPTER_NAME) -> None:
    """Inject peft's LoRA layers into the ``targets`` of every block of ``vit``; on
    layers that already hold adapters (other tasks'), add adapter ``adapter_name``."""
    from peft import LoraConfig, inject_adapter_in_model
    if not alpha > 0:
        raise ValueError(f'lora_alpha must be > 0, got {alpha!r}.')
    check_dropout('lora_dropout', dropout)
    why = {PEFT_BASE_NAME: 'it is peft\'s name for "no adapter"'}.get(adapter_name)
    if adapter_name in lora_adapters(vit):
        why = 'this ViT holds an adapter of that name already'
    elif '.' in adapter_name:
        why = 'it has a "." (adapters are module names)'
    if why:
        raise ValueError(f'Task {adapter_name!r} cannot name a LoRA adapter of this ViT: '
                         f'{why}. Give the task another name.')
    paths = lora_target_paths(vit, targets, rank)
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, bias='none',
                        target_modules=paths)
    with warnings.catch_warnings():
        # peft warns that the ViT gets several adapters: that is the point of sharing it
        warnings.filterwarnings('ignore', 'Already found a `peft_config` attribute')
        inject_adapter_in_model(config, vit, adapter_name=adapter_name)


def lora_layers(vit: nn.Module) -> Iterator[nn.Module]:
    """peft's LoRA layers in ``vit``."""
    from peft.tuners.lora import LoraLayer
    return (m for m in vit.modules() if isinstance(m, LoraLayer))


def lora_adapters(vit: nn.Module) -> Set[str]:
    """Names of the LoRA adapters in ``vit`` (one per task on a shared ViT)."""
    return {name for layer in lora_layers(vit) for name in layer.lora_A}


def lora_adapter_of(key: str) -> Optional[str]:
    """The adapter a ViT state-dict key belongs to (``...lora_A.<name>.weight``), or None."""
    found = _ADAPTER_KEY.search(key)
    return found.group(1) if found else None


def rename_adapter_keys(state_dict: dict, prefix: str, name: str) -> None:
    """Rename, in place, the keys of adapter :data:`ADAPTER_NAME` under ``prefix`` (a
    task checkpoint's) to adapter ``name`` (that task's on a shared ViT)."""
    for key in [k for k in state_dict if k.startswith(prefix)
                and lora_adapter_of(k) == ADAPTER_NAME]:
        start, end = _ADAPTER_KEY.search(key).span(1)
        state_dict[key[:start] + name + key[end:]] = state_dict.pop(key)


def delete_lora_adapter(vit: nn.Module, name: str) -> None:
    """Remove adapter ``name`` from every LoRA layer of ``vit`` (peft's own delete)."""
    from peft.functional import delete_adapter
    delete_adapter(vit, name, prefix='lora_')


def _pass_adapter_names(module: nn.Module, args: tuple, kwargs: dict, names: List[str]):
    kwargs['adapter_names'] = names
    return args, kwargs


@contextlib.contextmanager
def adapter_per_sample(vit: nn.Module, adapter_names: Optional[Sequence[str]]):
    """Inside this block, sample ``i`` of every batch through ``vit`` takes LoRA adapter
    ``adapter_names[i]`` (None: peft's active adapter, as without this block).

    peft's mixed-adapter batch (its PR #1558): a LoRA layer called with
    ``adapter_names=`` runs its base layer on the whole batch, then each adapter on the
    samples named for it (``LoraLayer._mixed_batch_forward``). ``get_peft_model``'s
    model passes the argument down through forward pre-hooks on every LoRA layer
    (``LoraModel._enable_peft_forward_hooks``); ``inject_adapter_in_model``, which puts
    LoRA into the ViT here, keeps no such model, so these are the same hooks on the same
    layers.
    """
    if adapter_names is None:
        yield
        return
    names = list(adapter_names)
    unknown = sorted(set(names) - lora_adapters(vit) - {PEFT_BASE_NAME})
    if unknown:  # peft's layers would silently skip them
        raise ValueError(f'No LoRA adapter {", ".join(map(repr, unknown))} in this ViT: '
                         f'it holds {sorted(lora_adapters(vit))}.')
    handles = [layer.register_forward_pre_hook(partial(_pass_adapter_names, names=names),
                                               with_kwargs=True)
               for layer in lora_layers(vit)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def merge_lora(vit: nn.Module) -> None:
    """Fold every LoRA layer of ``vit`` into its frozen layer and put that layer back."""
    from peft.tuners.lora import LoraLayer
    for path, module in list(vit.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge(safe_merge=True)  # safe_merge: refuse NaN/inf weights
            parent, _, name = path.rpartition('.')
            setattr(vit.get_submodule(parent), name, module.get_base_layer())
