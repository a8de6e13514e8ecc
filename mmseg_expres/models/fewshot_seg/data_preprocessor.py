"""Normalise episodes (1 + K images each) into one (B, 1 + K, 3, H, W) batch."""
from typing import Any, Dict

import torch
from mmseg.models import SegDataPreProcessor
from mmseg.registry import MODELS


@MODELS.register_module()
class EpisodeDataPreProcessor(SegDataPreProcessor):
    """mmseg's ``SegDataPreProcessor`` for episodes: same mean, std and channel order.

    The episodic pipelines resize every image to one size, so episodes stack without
    padding; ``batch_input_shape`` is that size.
    """

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        data = self.cast_data(data)
        episodes = data['inputs']
        shapes = {tuple(e.shape) for e in episodes}
        if len(shapes) > 1:
            raise ValueError(f'Episodes of one batch differ in shape {sorted(shapes)}: the '
                             'pipelines must resize every image to one fixed size.')
        inputs = torch.stack(episodes).float()  # (B, 1 + K, 3, H, W)
        if self.channel_conversion:
            inputs = inputs[:, :, [2, 1, 0]]
        if self._enable_normalize:
            inputs = (inputs - self.mean) / self.std
        samples = data.get('data_samples')
        if samples is not None:
            for sample in samples:
                sample.set_metainfo(dict(batch_input_shape=tuple(inputs.shape[-2:]),
                                         pad_shape=tuple(inputs.shape[-2:])))
        return dict(inputs=inputs, data_samples=samples)
