"""The EXPRES transformer block, written over a frozen timm ``Block``.

Every residual insertion point of method section 2 is one visible line, tagged with its
site name. The same function serves every way of running a block; only ``attend`` (who
attends to whom) and ``context`` change:

* full visibility: the whole sequence ``[class; patches; tokens]``, no mask;
* one-way, masked: the whole sequence with a mask that hides the output tokens from the
  image rows (the reference implementation);
* one-way, split (training): the image rows alone (no residuals, no autograd graph), then
  the output-token rows alone, attending to the image keys/values through ``context``;
* one-way, rows together (inference): the whole sequence through every row-wise layer
  (one pass over each frozen weight), split only inside the attention.

Two shortcuts skip work that no output or gradient needs, with the same numbers:
:func:`tokens_only_block` for a one-way last block whose image rows nobody reads, and
:func:`qkv_with_graph_on_tokens` for block 1 when its image rows are constants.
"""
from typing import Callable, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KeyValue = Tuple[Tensor, Tensor]
NO_RESIDUALS: Mapping[str, Tensor] = {}


class EveryRowResiduals(dict):
    """Site name -> (1, C) residual prompts added to *every* row, not only to the
    output-token rows (``residual_scope='all'``: one vector per layer and site).

    Only the joint path (:func:`expres_block` over the whole sequence, no
    ``graph_only_on_tokens``) reads them: the one-way shortcuts assume frozen image rows.
    """


def every_row(res: Mapping[str, Tensor]) -> bool:
    """Whether the residuals of ``res`` go to every row (:class:`EveryRowResiduals`)."""
    return isinstance(res, EveryRowResiduals)


def output_token_rows(num_tokens: int) -> slice:
    """Rows of the output tokens in a sequence ``[class; patches; tokens]``: the last K."""
    return slice(-num_tokens, None) if num_tokens else slice(0, 0)


def image_rows(num_tokens: int) -> slice:
    """Rows of the image (prefix and patch tokens): everything before the output tokens."""
    return slice(None, -num_tokens) if num_tokens else slice(None)


def add_to_tokens_(x: Tensor, residual: Optional[Tensor], all_rows: bool = False) -> Tensor:
    """Add a residual prompt to the output-token rows of ``x``, in place.

    ``all_rows`` (``residual_scope='all'``): add the (1, C) ``residual`` (or (B, 1, C),
    one per sample) to every row instead, in place too: an out-of-place sum allocates a
    new activation at every site, which made inference 5 % slower than in-place adds.

    In place because the alternatives copy the whole activation: concatenating the image
    rows with the shifted token rows costs a full copy in the forward and two zero-filled
    full-size gradients in the backward, and ``x[:, -K:].add_()`` (an in-place op on a
    view) makes autograd clone the whole gradient. ``index_add_`` on ``x`` itself passes
    the gradient of ``x`` through untouched, provided that ``x`` owns its storage (a
    LayerNorm output; ``nn.Linear``'s output on 3-d input is a view, hence
    :func:`linear_plus_tokens`). ``x`` must not be saved by an autograd node.

    Args:
        x: (B, T, C) activations whose last K rows are the output tokens.
        residual: (K, C) one vector per output token, or (B, K, C) one set per sample
            (a batch of several tasks), or None for an inactive site.

    Returns:
        ``x``, with ``residual`` added to ``x[:, -K:]``.
    """
    if residual is not None and all_rows:
        return x.add_(residual.to(x.dtype))
    if residual is not None:
        length, num_tokens = x.shape[1], residual.shape[-2]
        rows = torch.arange(length - num_tokens, length, device=x.device)
        # under autocast x may be bf16/fp16 while the prompts stay fp32
        x.index_add_(1, rows, residual.to(x.dtype).expand(x.shape[0], -1, -1))
    return x


def linear_plus_tokens(x: Tensor, linear: nn.Linear, residual: Optional[Tensor],
                       all_rows: bool = False) -> Tensor:
    """``linear(x)`` with ``residual`` added to the output-token rows (every row with
    ``all_rows``, as :func:`add_to_tokens_`).

    The linear runs on the (B*T, C) rows so that its output owns its storage and the add
    can be in place (:func:`add_to_tokens_`); the (B, T, C') result is a view of it.
    """
    batch, length, _ = x.shape
    out = F.linear(x.reshape(batch * length, -1), linear.weight, linear.bias)
    if residual is not None and all_rows and residual.dim() == 2:  # (1, C'): every row
        out.add_(residual.to(out.dtype))
    elif residual is not None and all_rows:  # (B, 1, C'), one per sample (mixed tasks)
        out.view(batch, length, -1).add_(residual.to(out.dtype))
    elif residual is not None:
        rows = flat_token_rows(batch, length, residual.shape[-2], x.device)
        out.index_add_(0, rows, residual.to(out.dtype).expand(batch, -1, -1).flatten(0, 1))
    return out.view(batch, length, -1)


def flat_token_rows(batch: int, length: int, num_tokens: int, device=None) -> Tensor:
    """Indices of the output-token rows of a (B, T, C) tensor flattened to (B*T, C)."""
    rows = torch.arange(length - num_tokens, length, device=device)
    return (rows + length * torch.arange(batch, device=device)[:, None]).flatten()


def qkv_residual(res: Mapping[str, Tensor]) -> Optional[Tensor]:
    """The residuals of sites q, k and v side by side, (K, 3C) (or (B, K, 3C)), for the
    fused projection.

    A site without a residual contributes zeros, which leave its rows bit-for-bit
    unchanged. One add on the fused output replaces three adds on its chunks.
    """
    present = [res[site] for site in ('q', 'k', 'v') if site in res]
    if not present:
        return None
    zeros = present[0].new_zeros(present[0].shape)
    return torch.cat([res.get(site, zeros) for site in ('q', 'k', 'v')], dim=-1)


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(B, T, H*D) -> (B, H, T, D)."""
    batch, length, _ = x.shape
    return x.reshape(batch, length, num_heads, -1).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """(B, H, T, D) -> (B, T, H*D)."""
    batch, _, length, _ = x.shape
    return x.transpose(1, 2).reshape(batch, length, -1)


#: ``attend(q, k, v, scale)``: multi-head attention of (B, H, T, D) queries, keys and
#: values, merged back to (B, T, H*D).
Attend = Callable[[Tensor, Tensor, Tensor, float], Tensor]


def joint_attention(attn_mask: Optional[Tensor] = None) -> Attend:
    """Every query row over every key row, optionally through a boolean mask.

    Args:
        attn_mask: (T_q, T_k), True where attending is allowed; None attends everywhere.
    """
    def attend(q: Tensor, k: Tensor, v: Tensor, scale: float) -> Tensor:
        return merge_heads(
            F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, scale=scale))
    return attend


def one_way_attention(num_tokens: int, token_mask: Optional[Tensor] = None) -> Attend:
    """One-way visibility over ``[image; tokens]`` rows, without a mask on the image rows.

    The image rows attend to the image rows only (the frozen ViT's attention, unmasked),
    the token rows attend to all rows. Same numbers as :func:`one_way_mask`, but the large
    image attention runs the unmasked kernel.

    Args:
        num_tokens: the number of output-token rows at the end of the sequence.
        token_mask: optional (K, T) boolean mask for the token rows (several tasks).
    """
    images, tokens = image_rows(num_tokens), output_token_rows(num_tokens)

    def attend(q: Tensor, k: Tensor, v: Tensor, scale: float) -> Tensor:
        image_out = F.scaled_dot_product_attention(
            q[:, :, images], k[:, :, images], v[:, :, images], scale=scale)
        token_out = F.scaled_dot_product_attention(
            q[:, :, tokens], k, v, attn_mask=token_mask, scale=scale)
        merged = torch.cat([image_out.transpose(1, 2), token_out.transpose(1, 2)], dim=1)
        return merged.flatten(2)
    return attend


def split_qkv(attn: nn.Module, qkv: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Queries, keys and values (B, H, T, D) from a timm ``Attention``'s fused output."""
    q, k, v = qkv.chunk(3, dim=-1)
    return (attn.q_norm(split_heads(q, attn.num_heads)),
            attn.k_norm(split_heads(k, attn.num_heads)), split_heads(v, attn.num_heads))


def keys_values(block: nn.Module, z: Tensor) -> KeyValue:
    """The frozen block's keys and values (B, H, T, D) of rows ``z``, nothing else.

    In one-way visibility that is all the output tokens need of the image rows in a block
    whose image output nobody reads (the last block, for a token readout): its image
    attention, projection and MLP can be skipped.
    """
    qkv = linear_plus_tokens(block.norm1(z), block.attn.qkv, None)
    _, k, v = split_qkv(block.attn, qkv)
    return k, v


def qkv_with_graph_on_tokens(block: nn.Module, z: Tensor, res: Mapping[str, Tensor],
                             num_tokens: int) -> Tensor:
    """Sites ln, q, k and v of a block whose input image rows are constants for autograd.

    That is block 1 in full visibility (the patch embedding is frozen): its image rows'
    LayerNorm and q/k/v projection run without a graph and only the K token rows' with
    one, so the backward computes no input gradient that nobody needs (a GEMM over all
    image rows). Same numbers as the plain path.

    Returns:
        (B, T, 3C) the fused q/k/v projection with the residuals on the token rows.
    """
    batch, length, _ = z.shape
    with torch.no_grad():
        flat = F.linear(block.norm1(z).flatten(0, 1), block.attn.qkv.weight,
                        block.attn.qkv.bias)
    u = add_to_tokens_(block.norm1(z[:, output_token_rows(num_tokens)]),
                       res.get('ln'))  # site ln
    tokens = linear_plus_tokens(u, block.attn.qkv, qkv_residual(res))  # sites q, k, v
    flat.index_copy_(0, flat_token_rows(batch, length, num_tokens, z.device),
                     tokens.flatten(0, 1))
    return flat.view(batch, length, -1)


def attention_branch(attn: nn.Module,
                     qkv: Tensor,
                     res: Mapping[str, Tensor],
                     attend: Attend,
                     context: Optional[KeyValue] = None) -> Tuple[Tensor, KeyValue]:
    """Multi-head self-attention of a timm ``Attention`` after its q/k/v projection.

    Args:
        attn: the frozen timm ``Attention`` module (fused ``qkv`` and ``proj``).
        qkv: (B, T, 3d) the fused q/k/v projection, residuals included.
        res: site name -> (K, C) residual prompts of this layer.
        attend: how the rows attend to each other (:func:`joint_attention`,
            :func:`one_way_attention`).
        context: optional keys/values (B, H, T_c, D) of rows that are not in ``qkv`` but
            that its rows attend to (the image rows in the split one-way path).

    Returns:
        The (B, T, d) attention output and this call's own keys/values (B, H, T, D).
    """
    q, k, v = split_qkv(attn, qkv)
    own_kv = (k, v)
    if context is not None:
        k = torch.cat([context[0], k], dim=2)
        v = torch.cat([context[1], v], dim=2)
    o = linear_plus_tokens(attn.norm(attend(q, k, v, attn.scale)), attn.proj,
                           res.get('proj'), every_row(res))  # site proj
    return o, own_kv


def expres_block(block: nn.Module,
                 z: Tensor,
                 res: Mapping[str, Tensor],
                 attend: Attend = joint_attention(),
                 context: Optional[KeyValue] = None,
                 graph_only_on_tokens: int = 0) -> Tuple[Tensor, KeyValue]:
    """One pre-norm ViT block with EXPRES residual prompts (method section 2).

    The frozen block runs in eval mode, so its dropout and drop-path are identities and
    are not applied here.

    Args:
        block: a frozen timm ``Block`` (``norm1/attn/ls1``, ``norm2/mlp/ls2``).
        z: (B, T, d) block input.
        res: site name -> (K, C) residual prompts of this layer (empty: frozen block).
        attend: see :func:`attention_branch`; the default attends everywhere.
        context: see :func:`attention_branch`.
        graph_only_on_tokens: K > 0 when only the last K rows of ``z`` carry an autograd
            graph and the image rows are constants (:func:`qkv_with_graph_on_tokens`).

    Returns:
        The (B, T, d) block output and the block's keys/values of ``z``'s rows.
    """
    rows = every_row(res)
    if graph_only_on_tokens:
        if rows:
            raise ValueError('Residuals on every row change the image rows: block 1 cannot '
                             'run them without a graph (graph_only_on_tokens=0).')
        qkv = qkv_with_graph_on_tokens(block, z, res, graph_only_on_tokens)
    else:
        u = add_to_tokens_(block.norm1(z), res.get('ln'), rows)  # site ln
        qkv = linear_plus_tokens(u, block.attn.qkv, qkv_residual(res), rows)  # sites q, k, v
    o, kv = attention_branch(block.attn, qkv, res, attend, context)  # site proj
    y = z + block.ls1(o)
    h = block.mlp(add_to_tokens_(block.norm2(y), res.get('ln2'), rows))  # site ln2
    # an nn.Linear output on 3-d input is a view: correct, but autograd clones the
    # gradient for the in-place add (the site is off by default)
    h = add_to_tokens_(h, res.get('mlp'), rows)  # site mlp
    return y + block.ls2(h), kv


def tokens_only_block(block: nn.Module, z: Tensor, res: Mapping[str, Tensor],
                      num_tokens: int, token_mask: Optional[Tensor] = None) -> Tensor:
    """A one-way block whose image output nobody reads, over ``[image; tokens]`` rows.

    The image rows contribute their keys and values (:func:`keys_values`); only the K
    token rows run the attention, projection and MLP.

    Args:
        block: the frozen timm ``Block``.
        z: (B, T, d) block input, the last ``num_tokens`` rows being output tokens.
        res: site name -> (K, C) residual prompts of this layer.
        num_tokens: K.
        token_mask: optional (K, T) boolean mask for the token rows (several tasks).

    Returns:
        (B, K, d) the output-token rows of the block's output.
    """
    image_kv = keys_values(block, z[:, image_rows(num_tokens)])
    tokens, _ = expres_block(block, z[:, output_token_rows(num_tokens)], res,
                             joint_attention(token_mask), context=image_kv)
    return tokens


def one_way_blocks_together(blocks: Sequence[nn.Module],
                            z: Tensor,
                            residuals_at: Callable[[int], Mapping[str, Tensor]],
                            num_tokens: int,
                            token_mask: Optional[Tensor] = None,
                            read_indices: Sequence[int] = (),
                            final_image: bool = True
                            ) -> Tuple[List[Tensor], Optional[Tensor], Tensor]:
    """One-way visibility over ``[image; tokens]`` rows without autograd (inference).

    Every row-wise layer runs over all rows at once (one pass over each frozen weight);
    only the attention is split (:func:`one_way_attention`).

    Args:
        blocks: the frozen timm blocks.
        z: (B, T, d) input of the first block, the last ``num_tokens`` rows being tokens.
        residuals_at: block index -> its residual prompts (site name -> (K, C)).
        num_tokens: K, the number of token rows.
        token_mask: optional (K, T) boolean mask for the token rows (several tasks).
        read_indices: blocks whose image rows are returned.
        final_image: whether the last block's image rows are needed; if not, that block
            runs only the token rows (:func:`tokens_only_block`). The last block must
            then not be in ``read_indices``.

    Returns:
        The image rows of the blocks in ``read_indices``, the final image rows (None
        when ``final_image`` is False) and the final token rows (B, K, d).
    """
    attend = one_way_attention(num_tokens, token_mask)
    rows, last = image_rows(num_tokens), len(blocks) - 1
    image_states = []
    for index, block in enumerate(blocks):
        if index == last and not final_image:
            tokens = tokens_only_block(block, z, residuals_at(index), num_tokens, token_mask)
            return image_states, None, tokens
        z, _ = expres_block(block, z, residuals_at(index), attend)
        if index in read_indices:
            image_states.append(z[:, rows])
    return image_states, z[:, rows], z[:, output_token_rows(num_tokens)]


def one_way_mask(num_image_rows: int, num_tokens: int, device=None) -> Tensor:
    """(T, T) boolean mask of one-way visibility: image rows do not see output tokens.

    True means "may attend". Output-token rows attend to everything.
    """
    total = num_image_rows + num_tokens
    mask = torch.ones(total, total, dtype=torch.bool, device=device)
    mask[:num_image_rows, num_image_rows:] = False
    return mask
