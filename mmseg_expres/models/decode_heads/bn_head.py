"""DINOv2's linear segmentation probe as an mmseg 1.x decode head."""
from typing import List

from mmcv.cnn import build_norm_layer
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class BNHead(BaseDecodeHead):
    """BatchNorm, then the 1x1 classifier: the probe of DINOv2's segmentation evaluation
    (Oquab et al., 2023; ``dinov2/eval/segmentation/models/decode_heads/linear_head.py``).

    With ``input_transform='resize_concat'`` the maps of several layers are resized to the
    first one's size and concatenated first ("+ms": the last four layers).

    Args:
        **kwargs: ``BaseDecodeHead``'s; ``channels`` must equal the (concatenated) input
            channels, since nothing but the norm sits before the classifier.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if self.in_channels != self.channels:
            raise ValueError(f'BNHead has no projection: channels ({self.channels}) must '
                             f'equal the input channels ({self.in_channels}).')
        self.bn = build_norm_layer(self.norm_cfg or dict(type='BN'), self.in_channels)[1]

    def forward(self, inputs: List[Tensor]) -> Tensor:
        return self.cls_seg(self.bn(self._transform_inputs(inputs)))
