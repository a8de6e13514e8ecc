"""mmseg's segmentation visualizer, given images in the memory layout OpenCV draws on.

mmseg's ``browse_dataset.py`` hands the visualizer a channel-reversed view of a CHW
tensor (``img.permute(1, 2, 0).numpy()[..., [2, 1, 0]]``), whose planar layout every
OpenCV with numpy 2 refuses to draw on ("Layout of the output array img is incompatible
with cv::Mat", mmseg issue 3405; the fix, mmseg PR 3566, is unreleased). Configs that use
this visualizer can be browsed with mmseg's tool; everything else is mmseg's.
"""
import numpy as np
from mmseg.registry import VISUALIZERS
from mmseg.visualization import SegLocalVisualizer


@VISUALIZERS.register_module()
class ContiguousSegLocalVisualizer(SegLocalVisualizer):
    """``SegLocalVisualizer`` that copies a non-contiguous image before drawing on it."""

    def add_datasample(self, name: str, image: np.ndarray, *args, **kwargs) -> None:
        super().add_datasample(name, np.ascontiguousarray(image), *args, **kwargs)
