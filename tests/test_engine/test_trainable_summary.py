"""The log says once what trains and what is frozen, without MMEngine's line per frozen
tensor."""
import logging

import torch
from mmengine.logging import MMLogger
from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

from mmseg_expres.engine.trainable_summary import SkipFrozenLines, trainable_summary


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.vit = nn.Linear(4, 4)          # frozen: 20 parameters
        self.prompts = nn.Parameter(torch.zeros(3, 4))
        self.vit.requires_grad_(False)


class Segmentor(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone()
        self.decode_head = nn.Conv2d(4, 2, 1)  # 10 parameters
        self.mixed = nn.Linear(2, 2)           # bias tuning: weight frozen, bias trains
        self.mixed.weight.requires_grad_(False)


def test_summary_names_each_part_and_its_counts():
    text = trainable_summary(Segmentor())
    assert text == ('Trains 24 parameters: backbone.prompts (1 tensors, 12 parameters), '
                    'decode_head (2 tensors, 10 parameters), mixed.bias (1 tensors, 2 '
                    'parameters). Frozen (never updated): 24 parameters: '
                    'backbone.vit (2 tensors, 20 parameters), mixed.weight (1 tensors, 4 '
                    'parameters).')


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_filter_drops_mmengines_line_per_frozen_tensor_and_keeps_the_rest():
    logger = MMLogger.get_instance('trainable_summary_test', log_level='INFO')
    records = Records()
    logger.addHandler(records)
    model = Segmentor()
    # with a paramwise_cfg (the configs' prompt learning rates) MMEngine walks every
    # parameter and logs each frozen one
    constructor = DefaultOptimWrapperConstructor(
        dict(optimizer=dict(type='SGD', lr=0.1, weight_decay=0.01)), dict(norm_decay_mult=0.0))
    constructor(model)
    skipped = [m for m in records.messages if 'requires_grad=False' in m]
    assert len(skipped) == 3  # what MMEngine logs without the filter
    records.messages.clear()
    logger.addFilter(SkipFrozenLines())
    wrapper = constructor(model)
    logger.info('kept')
    assert 'kept' in records.messages
    assert not [m for m in records.messages if 'requires_grad' in m]
    given = {id(p) for group in wrapper.optimizer.param_groups for p in group['params']}
    assert given == {id(p) for p in model.parameters() if p.requires_grad}
