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
"""
from typing import List, Sequence

from torch import nn

from .arguments import check_dropout

#: The adapter name peft gives the one LoRA adapter here (keys ``...lora_A.default...``).
ADAPTER_NAME = 'default'


def lora_target_choices(vit: nn.Module) -> List[str]:
    """The names LoRA can target: the linear layers of a block (timm: qkv, proj, fc1, fc2)."""
    return sorted({name.rpartition('.')[2] for name, module in vit.blocks.named_modules()
                   if isinstance(module, nn.Linear)})


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
    paths = [f'blocks.{name}' for name, module in vit.blocks.named_modules()
             if isinstance(module, nn.Linear) and name.rpartition('.')[2] in targets]
    largest = min(min(vit.get_submodule(p).in_features, vit.get_submodule(p).out_features)
                  for p in paths)
    if not isinstance(rank, int) or isinstance(rank, bool) or not 1 <= rank <= largest:
        raise ValueError(f'lora_rank must be an integer in [1, {largest}] (the smallest side '
                         f'of the targeted layers {tuple(targets)}), got {rank!r}.')
    return paths


def add_lora(vit: nn.Module, targets: Sequence[str], rank: int, alpha: float,
             dropout: float) -> None:
    """Inject peft's LoRA layers into the ``targets`` of every block of ``vit``."""
    from peft import LoraConfig, inject_adapter_in_model
    if not alpha > 0:
        raise ValueError(f'lora_alpha must be > 0, got {alpha!r}.')
    check_dropout('lora_dropout', dropout)
    paths = lora_target_paths(vit, targets, rank)
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, bias='none',
                        target_modules=paths)
    inject_adapter_in_model(config, vit, adapter_name=ADAPTER_NAME)


def merge_lora(vit: nn.Module) -> None:
    """Fold every LoRA layer of ``vit`` into its frozen layer and put that layer back."""
    from peft.tuners.lora import LoraLayer
    for path, module in list(vit.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge(safe_merge=True)  # safe_merge: refuse NaN/inf weights
            parent, _, name = path.rpartition('.')
            setattr(vit.get_submodule(parent), name, module.get_base_layer())
