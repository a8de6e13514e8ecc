"""AdaptFormer: a scaled bottleneck in parallel with each MLP of a frozen ViT, as its code runs it.

Chen et al., "AdaptFormer: Adapting Vision Transformers for Scalable Visual
Recognition", NeurIPS 2022. The authors' code (github.com/ShoufaChen/AdaptFormer, commit
6967d67, ``models/custom_modules.py`` ``Block.forward`` with ``main_image.py``'s
``tuning_config``: ``ffn_option="parallel"``, ``ffn_adapter_layernorm_option="none"``,
``ffn_adapter_scalar="0.1"``, ``ffn_adapter_init_option="lora"``; ``models/adapter.py``
``Adapter.forward``) computes, for the block's residual stream ``x'`` after attention::

    x = x' + drop_path(MLP(LN(x'))) + s * up(dropout(relu(down(x'))))

The adapter reads ``x'`` itself, not ``LN(x')``: the paper's figure 2 and equation 5 draw
it after the second LayerNorm, and the first author confirmed that the code is right
(AdaptFormer issue #9). A wrapper of the MLP cannot see ``x'``, so the block is rebuilt
around timm's own modules (:class:`AdaptFormerBlock`); ``ls2`` and ``drop_path2`` stay on
the MLP branch as timm has them, and the adapter branch is outside the drop-path, as in
the authors' ``Block.forward``. Not mergeable: the ReLU keeps it out of the weights.
"""
import math

from torch import Tensor, nn


class AdaptFormerBlock(nn.Module):
    """A timm ``Block`` with AdaptFormer's parallel adapter on its residual stream.

    Holds the timm block's own children (``norm1``, ``attn``, ``ls1``, ``drop_path1``,
    ``norm2``, ``mlp``, ``ls2``, ``drop_path2``), so the frozen tensors keep timm's keys
    (``blocks.3.mlp.fc1.weight``) and load as the plain ViT's.

    Parameters (in ``adaptformer``):
        down: Linear d -> r (weight (r, d), bias (r,)), Kaiming-uniform, bias zero.
        up: Linear r -> d (weight (d, r), bias (d,)), zero, so the block starts as the
            frozen one.

    Args:
        block: the frozen timm ``Block``; its modules are taken over.
        dim: d, the block's width.
        bottleneck: r.
        scale: s, a constant (the code's 0.1).
        dropout: on the bottleneck activations while training (the code's 0.1).
    """

    def __init__(self, block: nn.Module, dim: int, bottleneck: int, scale: float,
                 dropout: float) -> None:
        super().__init__()
        for name, child in block.named_children():
            self.add_module(name, child)
        self.scale = scale
        self.adaptformer = nn.ModuleDict(dict(  # all that trains (and leaves eval mode)
            down=nn.Linear(dim, bottleneck), dropout=nn.Dropout(dropout),
            up=nn.Linear(bottleneck, dim)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The code's ``init_option="lora"``."""
        nn.init.kaiming_uniform_(self.adaptformer.down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.adaptformer.down.bias)
        nn.init.zeros_(self.adaptformer.up.weight)
        nn.init.zeros_(self.adaptformer.up.bias)

    def adapter(self, x: Tensor) -> Tensor:
        """``s * up(dropout(relu(down(x))))``."""
        adapter = self.adaptformer
        return self.scale * adapter.up(adapter.dropout(adapter.down(x).relu()))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x))))  # x', as timm's Block
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x)))) + self.adapter(x)


def add_adaptformer(vit: nn.Module, bottleneck: int, scale: float, dropout: float) -> None:
    """Replace every block of ``vit`` by an :class:`AdaptFormerBlock` around its modules."""
    for index, block in enumerate(vit.blocks):
        vit.blocks[index] = AdaptFormerBlock(block, vit.embed_dim, bottleneck, scale, dropout)
