"""Loading transforms that fail with a message naming the bad file.

mmseg's loaders crash deep inside a worker on a corrupt file (``'NoneType' object has no
attribute 'squeeze'``) and silently train on labels outside the class range; these
subclasses check what they load and say which file is wrong and what to do.
"""
from typing import Optional

import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS


class BadSampleError(ValueError):
    """A data file that cannot be used as it is."""


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` that names an unreadable image instead of asserting."""

    def transform(self, results: dict) -> Optional[dict]:
        try:
            return super().transform(results)
        except (AssertionError, OSError, ValueError) as err:  # mmcv asserts on None
            raise BadSampleError(
                f'Cannot decode image {results["img_path"]!r} ({err}). The file is corrupt '
                'or not an image: replace it or remove it (and its annotation) from the '
                'dataset.') from None


@TRANSFORMS.register_module()
class CheckedLoadAnnotations(LoadAnnotations):
    """``LoadAnnotations`` that rejects unreadable maps and labels outside the classes.

    Samples without ``seg_map_path`` (images given to the inference APIs) pass through,
    so test pipelines can keep this transform.

    Args:
        num_classes: labels must lie in ``[0, num_classes)`` after ``reduce_zero_label``
            and ``label_map``, or equal ``ignore_index``.
        ignore_index: the label that marks pixels to ignore.
        **kwargs: passed to mmseg's ``LoadAnnotations``.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def _load_seg_map(self, results: dict) -> None:
        path = results.get('seg_map_path')
        if path is None:  # inference (init_model/MMSegInferencer): nothing to load
            return
        try:
            super()._load_seg_map(results)
        except (AttributeError, OSError, ValueError) as err:
            raise BadSampleError(
                f'Cannot decode annotation {path!r} ({err}). Annotations must be '
                'single-channel PNG label maps; replace the file or remove the sample.'
            ) from None
        labels = results['gt_seg_map']
        bad = np.unique(labels[(labels >= self.num_classes) & (labels != self.ignore_index)])
        if bad.size:
            raise BadSampleError(
                f'Annotation {path!r} has label values {bad.tolist()[:10]} outside '
                f'[0, {self.num_classes}) (after reduce_zero_label={self.reduce_zero_label}) '
                f'that are not the ignore index {self.ignore_index}. Check that the dataset '
                'matches the config (number of classes, reduce_zero_label) or fix the map.')
