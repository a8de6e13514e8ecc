"""BNHead (DINOv2's linear probe): BatchNorm then the 1x1 classifier, over one map or
several resized and concatenated ones."""
import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from mmseg_expres.models import BNHead


def _head(**kwargs) -> BNHead:
    cfg = dict(in_channels=[4, 4], in_index=[0, 1], input_transform='resize_concat',
               channels=8, num_classes=3, dropout_ratio=0, norm_cfg=dict(type='BN'))
    cfg.update(kwargs)
    return BNHead(**cfg).eval()


def test_concatenates_resized_maps_then_normalises_and_classifies():
    head = _head()
    with torch.no_grad():
        head.bn.running_mean.uniform_(-1, 1)
        head.bn.running_var.uniform_(0.5, 2)
        head.bn.weight.uniform_(0.5, 1.5)
        head.bn.bias.uniform_(-1, 1)
    maps = [torch.randn(2, 4, 6, 6), torch.randn(2, 4, 3, 3)]
    concat = torch.cat([maps[0], F.interpolate(maps[1], size=(6, 6), mode='bilinear',
                                               align_corners=False)], dim=1)
    bn = head.bn
    normed = (concat - bn.running_mean[:, None, None]) / torch.sqrt(
        bn.running_var[:, None, None] + bn.eps) * bn.weight[:, None, None] + \
        bn.bias[:, None, None]
    expected = F.conv2d(normed, head.conv_seg.weight, head.conv_seg.bias)
    assert_close(head(maps), expected)


def test_has_no_projection_so_channels_must_match():
    with pytest.raises(ValueError, match='channels'):
        _head(channels=4)
