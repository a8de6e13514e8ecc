"""The trainable parameters of EXPRES: output tokens and residual prompts."""
import math
from typing import Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from .arguments import ALL_SITES, DEFAULT_SITES  # noqa: F401  (re-exported for users)


def vpt_uniform_bound(patch_size: int, embed_dim: int) -> float:
    """VPT's Xavier-uniform bound for prompts, ``sqrt(6 / (3 * p * p + d))``.

    VPT initialises prompts as if they were the output of a (3 * p * p) -> d patch
    projection; EXPRES's output tokens and VPT's prompts both use it.
    """
    return math.sqrt(6.0 / (3 * patch_size * patch_size + embed_dim))


class ExpresPrompts(nn.Module):
    """Output tokens and per-token, per-layer residual prompts.

    Parameters:
        tokens: (K, d) the shallow prompts ("output tokens") appended once at the input.
        residuals[site]: (L_r, K, d) one vector per residual layer and output token,
            added to the output-token rows at ``site``.

    There are ``K * d * (1 + S * L_r)`` trainable numbers for S sites and L_r layers.

    Args:
        num_tokens: K, the number of output tokens.
        embed_dim: d, the ViT width.
        sites: the residual sites, a subset of :data:`ALL_SITES`.
        layers: absolute indices of the blocks that get residual prompts.
        token_init: ``'xavier'`` (VPT's uniform init) or ``'cls'`` (copy of the
            pretrained class token plus noise).
        patch_size: the ViT's patch size, which sets VPT's Xavier bound.
    """

    def __init__(self, num_tokens: int, embed_dim: int, sites: Sequence[str],
                 layers: Sequence[int], token_init: str, patch_size: int) -> None:
        super().__init__()
        self.num_tokens = num_tokens
        self.sites = tuple(sites)
        self.layers = tuple(layers)
        self.token_init = token_init
        self.patch_size = patch_size
        self._row_of_layer = {layer: row for row, layer in enumerate(self.layers)}
        self.tokens = nn.Parameter(torch.empty(num_tokens, embed_dim))
        self.residuals = nn.ParameterDict({
            site: nn.Parameter(torch.zeros(len(self.layers), num_tokens, embed_dim))
            for site in self.sites
        })
        self.reset_parameters()

    def reset_parameters(self, cls_token: Optional[Tensor] = None,
                         noise_std: float = 0.02) -> None:
        """Initialise tokens (``token_init``) and zero the residuals.

        Zero residuals make the model at step 0 "frozen ViT + K output tokens".

        Args:
            cls_token: (1, 1, d) the pretrained class token, needed for ``'cls'``.
            noise_std: standard deviation of the noise added to the class-token copy.
        """
        with torch.no_grad():
            for residual in self.residuals.values():
                residual.zero_()
            if self.token_init == 'cls' and cls_token is not None:
                copy = cls_token.reshape(1, -1).expand_as(self.tokens)
                self.tokens.copy_(copy + noise_std * torch.randn_like(self.tokens))
            else:
                bound = vpt_uniform_bound(self.patch_size, self.tokens.shape[1])
                self.tokens.uniform_(-bound, bound)

    def residuals_at(self, layer: int) -> Mapping[str, Tensor]:
        """Site name -> (K, d) residual prompts of block ``layer`` (empty if it has none)."""
        row = self._row_of_layer.get(layer)
        if row is None or self.num_tokens == 0:
            return {}
        return {site: residual[row] for site, residual in self.residuals.items()}

    def expected_num_params(self) -> int:
        """The closed form ``K * d * (1 + S * L_r)``."""
        k, d = self.tokens.shape
        return k * d * (1 + len(self.sites) * len(self.layers))

    def extra_repr(self) -> str:
        return (f'num_tokens={self.num_tokens}, sites={self.sites}, '
                f'layers={self.layers}, token_init={self.token_init!r}')
