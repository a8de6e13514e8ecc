"""The choices the backbones accept and the checks of their arguments, in one place.

Every list of allowed values is written once here and checked by :func:`check_choice`,
so ``ExpresViT``, ``VPTViT``, ``PeftViT``, ``MultiTaskExpres`` and :func:`readout_feature`
refuse the same values with the same message.
"""
from typing import Any, Optional, Sequence

#: Classification features (method section 5): the mean or the concatenation of the
#: normed output tokens, or the normed class token.
READOUTS = ('mean', 'concat', 'cls')
#: The readouts that read the output tokens (and so need K > 0).
TOKEN_READOUTS = ('mean', 'concat')
VISIBILITIES = ('full', 'one_way')
ONE_WAY_IMPLS = ('split', 'masked')
TOKEN_INITS = ('xavier', 'cls', 'patch_mean')
#: Residual prompts on the output-token rows only (one vector per token), or on every row
#: (one vector per layer and site, added for every token): two readings of the paper.
RESIDUAL_SCOPES = ('tokens', 'all')
RESIDUAL_INITS = ('zeros', 'xavier')
VPT_MODES = ('shallow', 'deep')
#: The tuning methods of :class:`PeftViT` (``method``).
PEFT_METHODS = ('lora', 'adaptformer', 'ssf')
#: The methods whose tuned tensors fold into the ViT's weights (``merge_``).
MERGEABLE_METHODS = ('lora', 'ssf')
#: (method, regular expression of its tuned tensors' state-dict keys), to name the method
#: a checkpoint was trained with; the first match wins.
TUNING_METHOD_KEYS = (
    ('LoRA', r'\.lora_[AB]\.'),
    ('AdaptFormer', r'\.adaptformer\.'),
    ('SSF', r'\.ssf_(scale|shift)$'),
    ('EXPRES prompts', r'^prompts\.'),
    ('VPT prompts', r'^prompts$'),
)
#: The ViT's final LayerNorm on no map, the last block's map, or every map.
FINAL_NORMS = (False, True, 'all')
#: Every site a residual prompt can be added at (method section 2).
ALL_SITES = ('ln', 'q', 'k', 'v', 'proj', 'ln2', 'mlp')
#: The paper's sites; ``ln2`` and ``mlp`` are ours and off by default.
DEFAULT_SITES = ('ln', 'q', 'k', 'v', 'proj')


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    """A ValueError naming the argument and its choices unless ``value`` is one of them."""
    if value not in choices:
        raise ValueError(f'{name} must be one of {tuple(choices)}, got {value!r}.')


def check_readout(readout: Optional[str], num_tokens: int, output_tokens: bool) -> None:
    """``readout`` is None or a known readout, and token outputs have tokens to read."""
    if readout is not None:
        check_choice('readout', readout, READOUTS)
    if reads_tokens(readout, output_tokens) and num_tokens == 0:
        raise ValueError(f'output_tokens and readout={TOKEN_READOUTS} read the output '
                         'tokens and need num_tokens > 0.')


def reads_tokens(readout: Optional[str], output_tokens: bool) -> bool:
    """Whether an output reads the output tokens themselves (not only the image rows)."""
    return output_tokens or readout in TOKEN_READOUTS


def check_num_tokens(num_tokens: Any, minimum: int, hint: str = '') -> None:
    if not isinstance(num_tokens, int) or num_tokens < minimum:
        raise ValueError(f'num_tokens must be an integer >= {minimum}, got {num_tokens!r}'
                         f'{"; " + hint if hint else ""}.')


def check_expres_args(num_tokens: int, residual_sites: Sequence[str], visibility: str,
                      one_way_impl: str, token_init: str, readout: Optional[str],
                      output_tokens: bool, frozen: bool, tune_bias: bool = False,
                      residual_scope: str = 'tokens', residual_init: str = 'zeros') -> None:
    """The checks of :class:`ExpresViT`'s arguments that need no ViT (see its docstring)."""
    check_choice('visibility', visibility, VISIBILITIES)
    check_choice('one_way_impl', one_way_impl, ONE_WAY_IMPLS)
    check_choice('token_init', token_init, TOKEN_INITS)
    check_choice('residual_scope', residual_scope, RESIDUAL_SCOPES)
    check_choice('residual_init', residual_init, RESIDUAL_INITS)
    check_num_tokens(num_tokens, 0)
    check_readout(readout, num_tokens, output_tokens)
    if visibility == 'one_way' and num_tokens and not reads_tokens(readout, output_tokens):
        what = f"readout='{readout}'" if readout else 'no readout and no output_tokens'
        raise ValueError(
            f"visibility='one_way' hides the output tokens from the image rows, and {what} "
            'reads the image rows only: the prompts would train and never change an '
            "output. Use visibility='full' (the image rows see the tokens, as in "
            f"segmentation), or read the tokens: readout in {TOKEN_READOUTS} or "
            'output_tokens=True.')
    if not frozen and visibility == 'one_way' and one_way_impl == 'split':
        raise ValueError("one_way_impl='split' runs the ViT without gradients; use "
                         "one_way_impl='masked' to fine-tune the ViT (frozen=False).")
    if tune_bias and not frozen:
        raise ValueError('tune_bias trains the biases of a frozen ViT; with frozen=False '
                         'every ViT parameter trains already. Set one of them.')
    unknown = [s for s in residual_sites if s not in ALL_SITES]
    if unknown or len(set(residual_sites)) != len(residual_sites):
        raise ValueError(f'residual_sites {tuple(residual_sites)} must be distinct '
                         f'names from {ALL_SITES}; unknown: {unknown}.')


def check_dropout(name: str, value: Any) -> None:
    """A ValueError unless ``value`` is a dropout probability in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0.0 <= value < 1.0:
        raise ValueError(f'{name} must be a dropout probability in [0, 1), got {value!r}.')


def check_vpt_args(num_tokens: int, mode: str, readout: Optional[str],
                   prompt_dropout: float = 0.0) -> None:
    """The checks of :class:`VPTViT`'s arguments that need no ViT."""
    check_choice('mode', mode, VPT_MODES)
    check_num_tokens(num_tokens, 1, 'use ExpresViT(num_tokens=0) for the linear probe')
    check_readout(readout, num_tokens, output_tokens=False)
    check_dropout('prompt_dropout', prompt_dropout)


def check_peft_args(method: str, num_tokens: int, readout: Optional[str],
                    output_tokens: bool, merged: bool) -> None:
    """The checks of :class:`PeftViT`'s arguments that need no ViT."""
    check_choice('method', method, PEFT_METHODS)
    if num_tokens != 0:
        raise ValueError(f'{method} adds no prompts: num_tokens must be 0 (the baseline line '
                         f'in configs/_base_/baselines.py sets it), got {num_tokens!r}.')
    check_readout(readout, 0, output_tokens)
    if merged and method not in MERGEABLE_METHODS:
        raise ValueError(f'merged=True needs a method whose tensors fold into the ViT, one of '
                         f'{MERGEABLE_METHODS}; {method} keeps its modules at inference.')
