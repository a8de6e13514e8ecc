"""One line on what trains and what is frozen, in place of MMEngine's line per frozen tensor.

MMEngine's ``DefaultOptimWrapperConstructor`` logs "<name> is skipped since its
requires_grad=False" for every frozen parameter: 78 lines for the demo's small ViT, 150
for a ViT-B, before every run. :func:`quiet_frozen_parameters` drops those lines from
the run's log and says once which parts of the model train and which are frozen.
"""
import logging
from collections import OrderedDict
from typing import Dict, List

from torch import nn

#: what MMEngine's optimiser constructor logs for each parameter it leaves out
SKIPPED_FROZEN = 'is skipped since its requires_grad=False'


class SkipFrozenLines(logging.Filter):
    """Drops the optimiser constructor's line per frozen parameter."""

    def filter(self, record: logging.LogRecord) -> bool:
        return SKIPPED_FROZEN not in record.getMessage()


def _groups(model: nn.Module, depth: int, names=None) -> Dict[str, List[nn.Parameter]]:
    groups: Dict[str, List[nn.Parameter]] = OrderedDict()
    for name, param in model.named_parameters():
        if names is None or any(name == n or name.startswith(n + '.') for n in names):
            groups.setdefault('.'.join(name.split('.')[:depth]), []).append(param)
    return groups


def trainable_summary(model: nn.Module) -> str:
    """``Trains: ...; frozen: ...`` by module (``backbone.vit``, ``decode_head``, ...).

    A top-level module whose parameters all train (or are all frozen) is named as one;
    a mixed one (the backbone: a frozen ViT beside its prompts) by its children, and a
    child still mixed (bias tuning's ViT) with both counts.
    """
    parts = {True: [], False: []}
    for name, params in _groups(model, 1).items():
        states = {p.requires_grad for p in params}
        children = {name: params} if len(states) == 1 else _groups(model, 2, [name])
        for child, child_params in children.items():
            trained = [p for p in child_params if p.requires_grad]
            frozen = [p for p in child_params if not p.requires_grad]
            if trained:
                note = f' of {len(child_params)}' if frozen else ''
                parts[True].append(f'{child} ({len(trained)}{note} tensors, '
                                   f'{sum(p.numel() for p in trained):,} parameters)')
            if frozen:
                parts[False].append(f'{child} ({len(frozen)} tensors, '
                                    f'{sum(p.numel() for p in frozen):,} parameters)')
    total = {state: sum(p.numel() for p in model.parameters() if p.requires_grad == state)
             for state in (True, False)}
    return (f'Trains {total[True]:,} parameters: {", ".join(parts[True]) or "none"}. '
            f'Frozen (never updated): {total[False]:,} parameters'
            + (f': {", ".join(parts[False])}.' if parts[False] else '.'))


def quiet_frozen_parameters(runner) -> None:
    """Log :func:`trainable_summary` once and drop the per-parameter lines from the run's
    log (call after the runner is built, before ``runner.train()``)."""
    from mmengine.model import is_model_wrapper
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    runner.logger.addFilter(SkipFrozenLines())
    runner.logger.info(trainable_summary(model))
