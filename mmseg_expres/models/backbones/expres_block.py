"""The EXPRES transformer block, written over a frozen timm ``Block``.

Every residual insertion point of method section 2 is one visible line, tagged with its
site name. The same function serves all three ways of running a block:

* full visibility: the whole sequence ``[class; patches; tokens]``, no mask;
* one-way, masked: the whole sequence with a mask that hides the output tokens from the
  image rows (the reference implementation);
* one-way, split: the image rows alone (no residuals, no autograd graph), then the
  output-token rows alone, attending to the image keys/values through ``context``.
"""
from typing import Mapping, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KeyValue = Tuple[Tensor, Tensor]
NO_RESIDUALS: Mapping[str, Tensor] = {}


def output_token_rows(num_tokens: int) -> slice:
    """Rows of the output tokens in a sequence ``[class; patches; tokens]``: the last K."""
    return slice(-num_tokens, None) if num_tokens else slice(0, 0)


def image_rows(num_tokens: int) -> slice:
    """Rows of the image (prefix and patch tokens): everything before the output tokens."""
    return slice(None, -num_tokens) if num_tokens else slice(None)


def add_to_tokens(x: Tensor, residual: Optional[Tensor]) -> Tensor:
    """Add a residual prompt to the output-token rows of ``x``, out of place.

    Args:
        x: (B, T, C) activations whose last K rows are the output tokens.
        residual: (K, C) one vector per output token, or None for an inactive site.

    Returns:
        (B, T, C) with ``x[:, -K:] + residual`` in the token rows.
    """
    if residual is None:
        return x
    num_tokens = residual.shape[0]
    if x.shape[1] == num_tokens:  # the split one-way path holds the token rows only
        return x + residual
    rows = output_token_rows(num_tokens)
    return torch.cat([x[:, image_rows(num_tokens)], x[:, rows] + residual], dim=1)


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(B, T, H*D) -> (B, H, T, D)."""
    batch, length, _ = x.shape
    return x.reshape(batch, length, num_heads, -1).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """(B, H, T, D) -> (B, T, H*D)."""
    batch, _, length, _ = x.shape
    return x.transpose(1, 2).reshape(batch, length, -1)


def attention_branch(attn: nn.Module,
                     u: Tensor,
                     res: Mapping[str, Tensor],
                     attn_mask: Optional[Tensor] = None,
                     context: Optional[KeyValue] = None) -> Tuple[Tensor, KeyValue]:
    """Multi-head self-attention of a timm ``Attention`` with EXPRES residuals.

    Args:
        attn: the frozen timm ``Attention`` module (fused ``qkv`` and ``proj``).
        u: (B, T, d) normed input of the block.
        res: site name -> (K, C) residual prompts of this layer.
        attn_mask: optional (T, T_k) boolean mask, True where attending is allowed.
        context: optional keys/values (B, H, T_c, D) of rows that are not in ``u`` but that
            ``u`` attends to (the image rows in the split one-way path).

    Returns:
        The (B, T, d) attention output and this call's own keys/values (B, H, T, D).
    """
    q, k, v = F.linear(u, attn.qkv.weight, attn.qkv.bias).chunk(3, dim=-1)
    q = add_to_tokens(q, res.get('q'))  # site q
    k = add_to_tokens(k, res.get('k'))  # site k
    v = add_to_tokens(v, res.get('v'))  # site v
    q = attn.q_norm(split_heads(q, attn.num_heads))
    k = attn.k_norm(split_heads(k, attn.num_heads))
    v = split_heads(v, attn.num_heads)
    own_kv = (k, v)
    if context is not None:
        k = torch.cat([context[0], k], dim=2)
        v = torch.cat([context[1], v], dim=2)
    a = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, scale=attn.scale)
    o = attn.proj(attn.norm(merge_heads(a)))
    o = add_to_tokens(o, res.get('proj'))  # site proj
    return o, own_kv


def expres_block(block: nn.Module,
                 z: Tensor,
                 res: Mapping[str, Tensor],
                 attn_mask: Optional[Tensor] = None,
                 context: Optional[KeyValue] = None) -> Tuple[Tensor, KeyValue]:
    """One pre-norm ViT block with EXPRES residual prompts (method section 2).

    The frozen block runs in eval mode, so its dropout and drop-path are identities and
    are not applied here.

    Args:
        block: a frozen timm ``Block`` (``norm1/attn/ls1``, ``norm2/mlp/ls2``).
        z: (B, T, d) block input.
        res: site name -> (K, C) residual prompts of this layer (empty: frozen block).
        attn_mask: see :func:`attention_branch`.
        context: see :func:`attention_branch`.

    Returns:
        The (B, T, d) block output and the block's keys/values of ``z``'s rows.
    """
    u = add_to_tokens(block.norm1(z), res.get('ln'))  # site ln
    o, kv = attention_branch(block.attn, u, res, attn_mask, context)  # sites q, k, v, proj
    y = z + block.ls1(o)
    h = block.mlp(add_to_tokens(block.norm2(y), res.get('ln2')))  # site ln2
    h = add_to_tokens(h, res.get('mlp'))  # site mlp
    return y + block.ls2(h), kv


def one_way_mask(num_image_rows: int, num_tokens: int, device=None) -> Tensor:
    """(T, T) boolean mask of one-way visibility: image rows do not see output tokens.

    True means "may attend". Output-token rows attend to everything.
    """
    total = num_image_rows + num_tokens
    mask = torch.ones(total, total, dtype=torch.bool, device=device)
    mask[:num_image_rows, num_image_rows:] = False
    return mask
