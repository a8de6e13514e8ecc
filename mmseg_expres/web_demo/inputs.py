"""What the web page hands over, read as the user meant it or refused with the fix.

Nothing here imports Gradio: the page passes file paths and the image editor's value
(a dict with ``background`` and ``layers`` arrays), and gets arrays or a
:class:`DemoInputError` whose message the page shows.
"""
import os.path as osp
from typing import Optional, Tuple

import mmcv
import numpy as np

#: Longest image side the page accepts; larger pictures are refused, not resized, so
#: that what the model sees is what the user sent.
MAX_SIDE = 4096
IMAGE_FORMATS = 'PNG, JPEG, BMP, WebP or TIFF'


class DemoInputError(ValueError):
    """A user's input the page cannot use; the message says what to do instead."""


def _decode(path: str, flag: str) -> Optional[np.ndarray]:
    try:
        return mmcv.imread(path, flag=flag)  # None when OpenCV cannot decode the bytes
    except Exception:  # noqa: BLE001 (an empty file makes OpenCV raise instead)
        return None


def read_image(path: str) -> np.ndarray:
    """An uploaded picture as the model reads it: (H, W, 3) uint8 BGR (``mmcv.imread``).

    Raises:
        DemoInputError: the file is not a decodable image, or it is too large.
    """
    name = osp.basename(path)
    image = _decode(path, 'color')
    if image is None:
        raise DemoInputError(f'{name} is not an image this page can read: upload a '
                             f'{IMAGE_FORMATS} file.')
    if max(image.shape[:2]) > MAX_SIDE:
        raise DemoInputError(f'{name} is {image.shape[1]}x{image.shape[0]} pixels; the '
                             f'page takes images up to {MAX_SIDE} pixels a side: make '
                             'it smaller first.')
    return image


def check_uploaded_mask(path: str, image_shape: Tuple[int, int], which: str) -> None:
    """Refuse a mask that is not an image, has another size, or marks nothing.

    The mask itself goes to :func:`mmseg_expres.apis.fewshot_segment` as a path, so
    that the formats it reads are read by it alone.
    """
    name = osp.basename(path)
    mask = _decode(path, 'unchanged')
    if mask is None:
        raise DemoInputError(f'The mask of {which} ({name}) is not an image: upload a '
                             'PNG mask (the object 1 or 255, the rest 0).')
    if mask.shape[:2] != tuple(image_shape):
        raise DemoInputError(
            f'The mask of {which} ({name}) is {mask.shape[1]}x{mask.shape[0]} pixels but '
            f'its image is {image_shape[1]}x{image_shape[0]}: upload the mask drawn on '
            'that image.')
    if (mask == mask.reshape(-1, *mask.shape[2:])[0]).all():
        raise DemoInputError(f'The mask of {which} ({name}) has one value everywhere, so '
                             'it marks no object: upload a mask with the object marked.')


def editor_picture(editor: Optional[dict]) -> Optional[np.ndarray]:
    """The image editor's picture as (H, W, 3) uint8 BGR, or None when it has none."""
    background = None if editor is None else editor.get('background')
    if background is None:
        return None
    return np.ascontiguousarray(np.asarray(background)[..., 2::-1])


def painted_mask(editor: dict, which: str) -> np.ndarray:
    """The pixels painted in the image editor as an (H, W) 0/1 uint8 mask.

    A pixel is the object where any brush layer has paint on it (alpha > 0), whatever
    the brush colour.

    Raises:
        DemoInputError: nothing is painted.
    """
    shape = np.asarray(editor['background']).shape[:2]
    mask = np.zeros(shape, np.uint8)
    for layer in editor.get('layers') or []:
        layer = np.asarray(layer)
        if layer.shape[:2] != shape:
            raise DemoInputError(f'The painting on {which} does not match its picture '
                                 f'({layer.shape[1]}x{layer.shape[0]} vs {shape[1]}x'
                                 f'{shape[0]}): clear it and paint again.')
        mask |= (layer[..., 3] > 0).astype(np.uint8)
    if not mask.any():
        raise DemoInputError(f'Nothing is painted on {which}: paint over the object with '
                             'the brush, or upload its mask.')
    return mask
