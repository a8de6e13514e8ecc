"""AdaptFormer: a scaled bottleneck in parallel with each MLP of a frozen ViT.

Chen et al., "AdaptFormer: Adapting Vision Transformers for Scalable Visual
Recognition", NeurIPS 2022, equations 5-6 (AdaptMLP):
``x_l = x'_l + MLP(LN(x'_l)) + s * ReLU(LN(x'_l) W_down) W_up``. The official code
(github.com/ShoufaChen/AdaptFormer, ``models/adapter.py``) has the same bottleneck,
scale ``s = 0.1`` and LoRA-style init (down Kaiming-uniform, up and biases zero); its
adapter reads the block's input ``x'_l`` without the ``LN`` (``adapter_layernorm_option
'none'``), which a wrapper of the MLP cannot see, so the paper's equation is kept here
(the parameter count is the same).
"""
import math

from torch import Tensor, nn


class AdaptFormerMlp(nn.Module):
    """``base_layer(u) + scale * up(dropout(relu(down(u))))`` for the MLP's input ``u``.

    Parameters (in ``adaptformer``):
        down: Linear d -> r (weight (r, d), bias (r,)).
        up: Linear r -> d (weight (d, r), bias (d,)), zero at the start, so the block
            starts as the frozen one.

    Args:
        base_layer: the frozen timm ``Mlp`` of one block.
        dim: d, the block's width.
        bottleneck: r.
        scale: s, a constant (the paper's default 0.1).
        dropout: on the bottleneck activations while training (the code's 0.1).
    """

    def __init__(self, base_layer: nn.Module, dim: int, bottleneck: int, scale: float,
                 dropout: float) -> None:
        super().__init__()
        self.base_layer = base_layer
        self.scale = scale
        self.adaptformer = nn.ModuleDict(dict(  # all that trains (and leaves eval mode)
            down=nn.Linear(dim, bottleneck), dropout=nn.Dropout(dropout),
            up=nn.Linear(bottleneck, dim)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_uniform_(self.adaptformer.down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.adaptformer.down.bias)
        nn.init.zeros_(self.adaptformer.up.weight)
        nn.init.zeros_(self.adaptformer.up.bias)

    def forward(self, u: Tensor) -> Tensor:
        adapter = self.adaptformer
        branch = adapter.up(adapter.dropout(adapter.down(u).relu()))
        return self.base_layer(u) + self.scale * branch


def add_adaptformer(vit: nn.Module, bottleneck: int, scale: float, dropout: float) -> None:
    """Put an :class:`AdaptFormerMlp` around the MLP of every block of ``vit``."""
    for block in vit.blocks:
        block.mlp = AdaptFormerMlp(block.mlp, vit.embed_dim, bottleneck, scale, dropout)
