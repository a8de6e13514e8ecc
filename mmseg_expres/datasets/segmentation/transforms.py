"""Loading transforms that fail with a message naming the bad file.

mmseg's loaders crash deep inside a worker on a corrupt file (``'NoneType' object has no
attribute 'squeeze'``) and silently train on labels outside the class range, or on the
low 8 bits of a 16-bit label; these subclasses check what they load and say which file
is wrong and what to do. Images are read as shown (EXIF orientation applied), masks as
stored (:mod:`.orientation`).
"""
import io
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from PIL import Image
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS


#: Pillow modes whose values fit in uint8 (mmseg's cast to uint8 keeps them)
EIGHT_BIT_MODES = ('1', 'L', 'P', 'LA', 'PA', 'RGB', 'RGBA')
#: mmcv backends that decode a JPEG without its EXIF orientation
IGNORE_ORIENTATION_BACKENDS = ('turbojpeg', 'tifffile')


class BadSampleError(ValueError):
    """A data file that cannot be used as it is."""


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` that names an unreadable image instead of asserting.

    It reads images as shown (EXIF orientation applied, mmcv's default), the way the
    masks are drawn and the data check compares them (:mod:`.orientation`): the decoding
    settings that ignore the orientation are refused.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        ignores = ('ignore_orientation' in self.color_type or self.color_type == 'unchanged'
                   or self.imdecode_backend in IGNORE_ORIENTATION_BACKENDS)
        if ignores:
            raise ValueError(
                f'CheckedLoadImageFromFile(color_type={self.color_type!r}, '
                f'imdecode_backend={self.imdecode_backend!r}) would read phone photos '
                'as stored, ignoring their EXIF orientation, while masks are drawn on the '
                'photo as shown and the data check compares them so (docs/custom_data.md, '
                '"Phone photos"). Use color_type=\'color\' with the cv2 or pillow backend.')

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

    A 16-bit mask's values are checked before mmseg casts them to uint8 (which would
    turn label 300 into 44): values above 255 are refused.

    Samples without ``seg_map_path`` (images given to the inference APIs) pass through,
    so test pipelines can keep this transform.

    Args:
        num_classes: labels must lie in ``[0, num_classes)`` after ``reduce_zero_label``
            and ``label_map``, or equal ``ignore_index``.
        ignore_index: the label that marks pixels to ignore (0..255: mmseg's label
            maps are 8-bit).
        **kwargs: passed to mmseg's ``LoadAnnotations``.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255, **kwargs) -> None:
        super().__init__(**kwargs)
        if not 0 <= ignore_index <= 255:
            raise ValueError(f'ignore_index={ignore_index}: mmseg reads label maps as 8-bit, '
                             'so the ignored label must be 0..255 (usually 255).')
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def _load_seg_map(self, results: dict) -> None:
        path = results.get('seg_map_path')
        if path is None:  # inference (init_model/MMSegInferencer): nothing to load
            return
        try:
            self._refuse_wide_labels(path)
            super()._load_seg_map(results)
        except BadSampleError:
            raise
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

    def _refuse_wide_labels(self, path: str) -> None:
        """Refuse values above 255, which mmseg's cast to uint8 would wrap (300 -> 44).

        Only masks that Pillow does not know to be 8-bit are decoded here (mmseg decodes
        every mask again), so 8-bit masks cost a header read.
        """
        data = fileio.get(path, backend_args=self.backend_args)
        try:
            with Image.open(io.BytesIO(data)) as header:
                if header.mode in EIGHT_BIT_MODES:
                    return
        except OSError:
            pass  # not for Pillow: decode it as mmseg will
        labels = mmcv.imfrombytes(data, flag='unchanged', backend=self.imdecode_backend)
        wide = np.unique(labels[labels > 255]) if labels is not None else []
        if len(wide):
            raise BadSampleError(
                f'Annotation {path!r} ({labels.dtype} mask) holds label values '
                f'{wide.tolist()[:10]} above 255; mmseg keeps only their low 8 bits, so '
                f'they would train and be scored as {(wide % 256).tolist()[:10]}. Map the '
                f'labels to 0..{self.num_classes - 1} (255 for ignored pixels) and save '
                'the masks as 8-bit PNGs; tools/check_seg_data.py lists every such file.')
