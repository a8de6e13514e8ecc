"""What the web page hands over, read as the user meant it or refused with the fix.

Nothing here imports Gradio: the page passes file paths and the image editor's value
(a dict with ``background`` and ``layers`` arrays), and gets arrays or a
:class:`DemoInputError` whose message the page shows.

A picture's size is checked from its header before anything decodes it: a PNG of a few
kilobytes can hold 20,000 x 20,000 pixels, over a gigabyte once decoded.
"""
import os.path as osp
import warnings
from typing import Optional, Sequence, Tuple

import mmcv
import numpy as np
from PIL import Image

#: Longest image side the page accepts; larger pictures are refused, not resized, so
#: that what the model sees is what the user sent.
MAX_SIDE = 4096
#: The most pixels a decoder of the page's process may decode (Pillow's and OpenCV's
#: caps, :func:`limit_decoders`); with MAX_SIDE, no picture the page takes reaches it.
MAX_PIXELS = MAX_SIDE * MAX_SIDE
#: Files one request may send (images to segment, query images): each is segmented and
#: its overlay kept until the page shows them all.
MAX_FILES = 8
IMAGE_FORMATS = 'PNG, JPEG, BMP, WebP or TIFF'
#: The environment variable OpenCV reads its decoders' pixel cap from, once, when it loads.
OPENCV_PIXELS_ENV = 'OPENCV_IO_MAX_IMAGE_PIXELS'


class DemoInputError(ValueError):
    """A user's input the page cannot use; the message says what to do instead."""


def limit_decoders() -> None:
    """Cap Pillow at :data:`MAX_PIXELS` for this process, a warning over it included.

    Pillow checks the cap when it opens a file, from the header; past the cap it warns
    (``DecompressionBombWarning``) and past twice the cap it refuses. The page's process
    turns the warning into a refusal too. This covers what Gradio decodes itself (the
    image editor's picture and layers) and the few-shot mask reader. OpenCV's cap has to
    be in :data:`OPENCV_PIXELS_ENV` before cv2 loads (tools/web_demo.py sets it).
    """
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    warnings.simplefilter('error', Image.DecompressionBombWarning)


def too_large(what: str, size: Optional[Tuple[int, int]] = None) -> str:
    """The refusal of a picture over the page's limit, with how to make it fit."""
    shown = f'{size[0]}x{size[1]} pixels' if size else f'over {MAX_PIXELS:,} pixels'
    return (f'{what} is {shown}; the page takes images up to {MAX_SIDE} pixels a side: '
            f'make it smaller first (resize it so that its longer side is at most '
            f'{MAX_SIDE} pixels).')


def not_an_image(name: str) -> str:
    return f'{name} is not an image this page can read: upload a {IMAGE_FORMATS} file.'


def _header_size(path: str, what: str) -> Optional[Tuple[int, int]]:
    """(width, height) from the file's header alone; None when Pillow cannot identify it.

    Pillow's ``Image.open`` reads the header and leaves the pixels undecoded.

    Raises:
        DemoInputError: the picture is too large.
    """
    try:
        with Image.open(path) as picture:
            size = picture.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DemoInputError(too_large(what)) from None
    except Exception:  # noqa: BLE001 (Pillow raises many kinds on a broken header)
        return None
    if max(size) > MAX_SIDE:
        raise DemoInputError(too_large(what, size))
    return size


def check_image_file(path: str) -> Tuple[int, int]:
    """A picture's (width, height) from its header, before anything decodes it.

    Files Pillow cannot identify are refused here, so that no other decoder (OpenCV's
    reads more formats) meets a size unchecked.

    Raises:
        DemoInputError: the file is not an image, or it is too large.
    """
    name = osp.basename(path)
    size = _header_size(path, name)
    if size is None:
        raise DemoInputError(not_an_image(name))
    return size


def check_file_count(paths: Optional[Sequence[str]], what: str) -> Optional[Sequence[str]]:
    """``paths``, or a refusal when one request sends more than :data:`MAX_FILES`."""
    if paths and len(paths) > MAX_FILES:
        raise DemoInputError(f'{len(paths)} {what} were sent; the page takes up to '
                             f'{MAX_FILES} at a time: send them in groups of {MAX_FILES} '
                             'or fewer.')
    return paths


def _decode(path: str, flag: str) -> Optional[np.ndarray]:
    try:
        return mmcv.imread(path, flag=flag)  # None when OpenCV cannot decode the bytes
    except Exception:  # noqa: BLE001 (an empty file makes OpenCV raise instead)
        return None


def read_image(path: str) -> np.ndarray:
    """An uploaded picture as the model reads it: (H, W, 3) uint8 BGR (``mmcv.imread``),
    decoded only once its header passed :func:`check_image_file`.

    Raises:
        DemoInputError: the file is not a decodable image, or it is too large.
    """
    check_image_file(path)
    image = _decode(path, 'color')
    if image is None:
        raise DemoInputError(not_an_image(osp.basename(path)))
    return image


def check_uploaded_mask(path: str, image_shape: Tuple[int, int], which: str) -> None:
    """Refuse a mask that is not an image, has another size, or marks nothing.

    The mask itself goes to :func:`mmseg_expres.apis.fewshot_segment` as a path, so
    that the formats it reads are read by it alone.
    """
    name = osp.basename(path)
    not_a_mask = (f'The mask of {which} ({name}) is not an image: upload a PNG mask (the '
                  'object 1 or 255, the rest 0).')
    size = _header_size(path, f'The mask of {which} ({name})')
    if size is None:
        raise DemoInputError(not_a_mask)
    if size[::-1] != tuple(image_shape):
        raise DemoInputError(
            f'The mask of {which} ({name}) is {size[0]}x{size[1]} pixels but its image '
            f'is {image_shape[1]}x{image_shape[0]}: upload the mask drawn on that image.')
    mask = _decode(path, 'unchanged')
    if mask is None:
        raise DemoInputError(not_a_mask)
    if (mask == mask.reshape(-1, *mask.shape[2:])[0]).all():
        raise DemoInputError(f'The mask of {which} ({name}) has one value everywhere, so '
                             'it marks no object: upload a mask with the object marked.')


def editor_picture(editor: Optional[dict]) -> Optional[np.ndarray]:
    """The image editor's picture as (H, W, 3) uint8 BGR, or None when it has none.

    Raises:
        DemoInputError: the picture is over :data:`MAX_SIDE` a side (Gradio decoded it,
            under the process's pixel cap, before the page sees it).
    """
    background = None if editor is None else editor.get('background')
    if background is None:
        return None
    background = np.asarray(background)
    if max(background.shape[:2]) > MAX_SIDE:
        raise DemoInputError(too_large('The reference picture',
                                       background.shape[1::-1]))
    return np.ascontiguousarray(background[..., 2::-1])


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
