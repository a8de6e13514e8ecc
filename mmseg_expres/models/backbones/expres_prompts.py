"""The trainable parameters of EXPRES: output tokens and residual prompts."""
import math
from typing import Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from .arguments import ALL_SITES, DEFAULT_SITES  # noqa: F401  (re-exported for users)
from .expres_block import EveryRowResiduals


def vpt_uniform_bound(patch_size: int, embed_dim: int) -> float:
    """VPT's Xavier-uniform bound for prompts, ``sqrt(6 / (3 * p * p + d))``.

    VPT initialises prompts as if they were the output of a (3 * p * p) -> d patch
    projection; EXPRES's output tokens and VPT's prompts both use it.
    """
    return math.sqrt(6.0 / (3 * patch_size * patch_size + embed_dim))


class ExpresPrompts(nn.Module):
    """Output tokens and per-layer residual prompts.

    Parameters:
        tokens: (K, d) the shallow prompts ("output tokens") appended once at the input.
        residuals[site]: (L_r, K, d) one vector per residual layer and output token,
            added to the output-token rows at ``site`` (``residual_scope='tokens'``); or
            (L_r, 1, d), one vector per layer, added to every row (``'all'``).

    There are ``K * d * (1 + S * L_r)`` trainable numbers for S sites and L_r layers
    (``K * d + S * L_r * d`` with ``residual_scope='all'``).

    Args:
        num_tokens: K, the number of output tokens.
        embed_dim: d, the ViT width.
        sites: the residual sites, a subset of :data:`ALL_SITES`.
        layers: absolute indices of the blocks that get residual prompts.
        token_init: ``'xavier'`` (VPT's uniform init), ``'cls'`` (copy of the pretrained
            class token plus noise) or ``'patch_mean'`` (the mean patch token of a
            data-set-mean image plus noise; :meth:`reset_parameters`).
        patch_size: the ViT's patch size, which sets VPT's Xavier bound.
        residual_scope: ``'tokens'`` (one vector per output token, on the output-token
            rows) or ``'all'`` (one vector per layer and site, on every row).
        residual_init: ``'zeros'`` (step 0 is "frozen ViT + K output tokens") or
            ``'xavier'`` (VPT's uniform bound, as the tokens).
    """

    def __init__(self, num_tokens: int, embed_dim: int, sites: Sequence[str],
                 layers: Sequence[int], token_init: str, patch_size: int,
                 residual_scope: str = 'tokens', residual_init: str = 'zeros') -> None:
        super().__init__()
        self.num_tokens = num_tokens
        self.sites = tuple(sites)
        self.layers = tuple(layers)
        self.token_init = token_init
        self.patch_size = patch_size
        self.residual_scope = residual_scope
        self.residual_init = residual_init
        self._row_of_layer = {layer: row for row, layer in enumerate(self.layers)}
        self.tokens = nn.Parameter(torch.empty(num_tokens, embed_dim))
        per_layer = 1 if residual_scope == 'all' else num_tokens
        self.residuals = nn.ParameterDict({
            site: nn.Parameter(torch.zeros(len(self.layers), per_layer, embed_dim))
            for site in self.sites
        })
        self.reset_parameters()

    def reset_parameters(self, cls_token: Optional[Tensor] = None,
                         noise_std: float = 0.02, patch_mean: Optional[Tensor] = None) -> None:
        """Initialise tokens (``token_init``) and residuals (``residual_init``).

        Zero residuals make the model at step 0 "frozen ViT + K output tokens".

        Args:
            cls_token: (1, 1, d) the pretrained class token, needed for ``'cls'``.
            noise_std: standard deviation of the noise added to the class-token or
                patch-mean copy (it makes the K tokens differ: identical tokens with
                zero residuals get identical gradients and would stay identical).
            patch_mean: (d,) the mean patch token, needed for ``'patch_mean'``.
        Without the tensor its init needs (the prompts built before the ViT's weights
        are loaded), the tokens get the Xavier init until ``init_weights`` runs.
        """
        bound = vpt_uniform_bound(self.patch_size, self.tokens.shape[1])
        with torch.no_grad():
            for residual in self.residuals.values():
                if self.residual_init == 'xavier':
                    residual.uniform_(-bound, bound)
                else:
                    residual.zero_()
            start = {'cls': cls_token, 'patch_mean': patch_mean}.get(self.token_init)
            if start is not None:
                copy = start.reshape(1, -1).expand_as(self.tokens)
                self.tokens.copy_(copy + noise_std * torch.randn_like(self.tokens))
            else:
                self.tokens.uniform_(-bound, bound)

    def residuals_at(self, layer: int) -> Mapping[str, Tensor]:
        """Site name -> (K, d) residual prompts of block ``layer`` (empty if it has none);
        (1, d) in an :class:`EveryRowResiduals` with ``residual_scope='all'``."""
        row = self._row_of_layer.get(layer)
        if row is None or self.num_tokens == 0:
            return {}
        kind = EveryRowResiduals if self.residual_scope == 'all' else dict
        return kind((site, residual[row]) for site, residual in self.residuals.items())

    def expected_num_params(self) -> int:
        """The closed form ``K * d * (1 + S * L_r)`` (``K * d + S * L_r * d`` with
        ``residual_scope='all'``)."""
        k, d = self.tokens.shape
        per_layer = 1 if self.residual_scope == 'all' else k
        return k * d + per_layer * d * len(self.sites) * len(self.layers)

    def extra_repr(self) -> str:
        return (f'num_tokens={self.num_tokens}, sites={self.sites}, '
                f'layers={self.layers}, token_init={self.token_init!r}, '
                f'residual_scope={self.residual_scope!r}, '
                f'residual_init={self.residual_init!r}')
