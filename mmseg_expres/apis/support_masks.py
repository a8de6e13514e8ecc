"""One reader for the support masks people draw or download, with the format said out loud.

What :func:`read_support_mask` reads, and how (``cls``, ``color``, ``ignore_index`` are
the caller's; nothing else is guessed):

* **Index masks** (8/16-bit grey PNG, PIL mode ``L``/``I;16``/``1``): pixel values are
  labels. With ``cls`` the object is ``== cls``. Without it the mask must hold exactly
  two values, one of them 0, and the other is the object: 0/1, 0/255 (a white-on-black
  drawing) or 0/c all work. More values without ``cls`` is refused (a label map needs
  its class; a JPEG mask is lossy and holds many values: save masks as PNG).
* **Palette PNGs** (mode ``P``, e.g. VOC's ``SegmentationClass/*.png``) are read as their
  indices, like index masks, not as colours (mmcv/OpenCV would decode them to BGR
  colours); with ``color`` their palette colours are compared instead (and a grey
  mask's value v is the colour (v, v, v)).
* **Colour masks** (RGB, or RGBA with the alpha dropped): the object is the pixels
  equal to ``color`` (R, G, B). Without ``color`` the same two-value rule applies: black
  and exactly one other colour. A 3-channel mask whose channels are equal everywhere (a
  grey mask saved as RGB) is an index mask.
* **Arrays**: (H, W) is an index mask, (H, W, 3) an RGB colour mask (PIL's and Gradio's
  order, not mmcv's BGR).

``ignore_index`` (index masks only): pixels of that value become 255 (ignored by the
model's pooling); only when asked for, since 255 is the object in a 0/255 drawing.

Masks are read as stored, support images as shown (EXIF orientation applied, as
``mmcv.imread`` reads them): a mask must be drawn on the photo as shown. Given the
image's path, a mask that matches a phone photo's stored pixels instead is refused with
the command that fixes it (the project's one rule:
:mod:`mmseg_expres.datasets.segmentation.orientation`).
"""
import logging
import os.path as osp
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

MaskInput = Union[str, np.ndarray]
IGNORE = 255


class SupportMaskError(ValueError):
    """A support mask that cannot be read as the user meant it; the message says why."""


def parse_color(text: str) -> Tuple[int, int, int]:
    """``'R,G,B'`` (each 0..255) as a tuple, for ``--color``.

    Raises:
        ValueError: anything else.
    """
    from ..datasets.segmentation.colour_masks import parse_rgb
    return parse_rgb(text, '--color')


def _codes(array: np.ndarray) -> np.ndarray:
    """(H, W) labels as they are, (H, W, 3) colours as packed integer codes (one a pixel;
    comparing these is ~100x faster than ``np.unique(axis=0)`` on a 12 MP mask)."""
    from ..datasets.segmentation.colour_masks import colour_codes
    return colour_codes(array) if array.ndim == 3 else array


def _values(array: np.ndarray, limit: int = 8) -> str:
    """The distinct values (or colours) of an (H, W) or (H, W, 3) array, for messages."""
    from ..datasets.segmentation.colour_masks import code_colour
    unique = np.unique(_codes(array))
    shown = [code_colour(u) if array.ndim == 3 else int(u) for u in unique[:limit]]
    more = f' and {len(unique) - limit} more' if len(unique) > limit else ''
    return f'{len(unique)} value(s): {", ".join(map(str, shown))}{more}'


def load_mask_array(mask: MaskInput, as_colour: bool = False) -> np.ndarray:
    """A mask as (H, W) labels or (H, W, 3) RGB colours, as described in the module doc.

    Args:
        mask: a path or an array.
        as_colour: always (H, W, 3) RGB: a palette PNG as its colours, a grey mask v as
            (v, v, v); for masks given by colour.
    """
    if not isinstance(mask, str):
        array = np.asarray(mask)
        if array.ndim == 3 and array.shape[-1] == 4:
            array = array[..., :3]
        if array.ndim == 3 and array.dtype != np.uint8:
            if array.size and (array.min() < 0 or array.max() > 255):
                raise SupportMaskError(f'A colour mask holds 0..255 RGB values; got '
                                       f'{array.dtype} values {array.min()}..{array.max()}.')
            array = array.astype(np.uint8)
    else:
        if not osp.isfile(mask):
            raise SupportMaskError(f'No such mask file: {mask}')
        try:
            image = Image.open(mask)
            image.load()
        except OSError as error:
            raise SupportMaskError(f'Cannot read the mask {mask}: {error}') from error
        if image.mode == '1':
            image = image.convert('L')
        elif image.mode in ('RGBA', 'LA', 'PA') or (image.mode == 'P' and as_colour):
            image = image.convert('RGB' if image.mode != 'LA' else 'L')
        array = np.asarray(image)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] != 3):
        raise SupportMaskError(f'A mask must be (H, W) labels or (H, W, 3) colours; got '
                               f'shape {array.shape}.')
    if as_colour:
        return np.repeat(array[..., None], 3, axis=-1) if array.ndim == 2 else array
    if array.ndim == 3 and (array[..., 0] == array[..., 1]).all() and (
            array[..., 1] == array[..., 2]).all():
        array = array[..., 0]  # a grey mask saved with three equal channels
    return array


def _object_pixels(array: np.ndarray, cls: Optional[int], color: Optional[Sequence[int]],
                   ignore_index: Optional[int], name: str) -> np.ndarray:
    """Boolean (H, W): where the object is."""
    if color is not None:
        return (array == np.asarray(color, dtype=array.dtype)).all(axis=-1)
    if cls is not None:
        if array.ndim == 3:
            raise SupportMaskError(
                f'{name} is a colour mask ({_values(array)}): give the object\'s colour '
                'with --color R,G,B (color=(R, G, B)) instead of a class id.')
        return array == cls
    values = _codes(array)  # black is code 0, like background label 0
    unique = np.unique(values if ignore_index is None else values[values != ignore_index])
    if len(unique) != 2 or not (unique == 0).any():
        ignored = f' besides the ignored {ignore_index}' if ignore_index is not None else ''
        raise SupportMaskError(
            f'{name} holds {_values(array)}{ignored}: without a class, a mask must hold '
            'exactly two values, 0 (background) and the object (1, 255, any label or '
            'colour). Give the class (--class-id C for label maps, --color R,G,B for colour '
            'masks), or save the mask losslessly (PNG, not JPEG).')
    return values == unique[unique != 0][0]


def read_support_mask(mask: MaskInput, image_size: Optional[Tuple[int, int]] = None,
                      cls: Optional[int] = None, color: Optional[Sequence[int]] = None,
                      ignore_index: Optional[int] = None, resize: bool = False,
                      name: str = 'the support mask',
                      image_path: Optional[str] = None) -> np.ndarray:
    """A support mask as uint8 (H, W): 1 the object, 0 other, 255 ignored.

    Args:
        mask: path or array, in one of the formats of this module's docstring.
        image_size: (H, W) of the support image; a mask of another size is refused.
        cls: the object's label value in an index or palette mask.
        color: the object's (R, G, B) in a colour mask (or a palette PNG's colours).
        ignore_index: a label value to ignore (e.g. VOC's 255 borders); index masks only.
        resize: resize a mask of another size to ``image_size`` (nearest) with a
            warning instead of refusing it.
        name: how messages call this mask, e.g. ``'support 2 (dog.png)'``.
        image_path: the support image's file, if it is one: a mask that may not cover
            the photo as shown (an EXIF-rotated phone photo) is refused.

    Raises:
        SupportMaskError: unreadable, ambiguous (no class for a multi-valued mask), no
            pixel of the object, another size than its image, or drawn on the stored
            pixels of an EXIF-rotated image (or not known not to be).
    """
    if cls is not None and color is not None:
        raise SupportMaskError('Give the object either as a class id or as a colour, not both.')
    array = load_mask_array(mask, as_colour=color is not None)
    if ignore_index is not None and array.ndim == 3:
        raise SupportMaskError(f'{name} is a colour mask: ignore_index applies to label '
                               'masks only.')
    obj = _object_pixels(array, cls, color, ignore_index, name)
    if not obj.any():
        what = f'colour {tuple(color)}' if color is not None else f'class {cls}'
        raise SupportMaskError(f'{name} has no pixel of {what}; it holds {_values(array)}. '
                               'Check the class id or colour, or draw the object.')
    out = obj.astype(np.uint8)
    if ignore_index is not None:
        out[array == ignore_index] = IGNORE
        if not (out == 1).any():
            raise SupportMaskError(f'{name}: every object pixel is the ignored value '
                                   f'{ignore_index}; it holds {_values(array)}.')
    if image_path is not None:
        _refuse_unturned_mask(image_path, mask if isinstance(mask, str) else 'MASK.png',
                              out.shape, name)
    if image_size is not None and out.shape != tuple(image_size):
        if not resize:
            raise SupportMaskError(
                f'{name} is {out.shape[0]}x{out.shape[1]} (HxW) but its image is '
                f'{image_size[0]}x{image_size[1]}: a mask must cover its image pixel for '
                'pixel. Pass the matching mask, or resize it (--resize-masks / '
                'resize_masks=True, nearest neighbour).')
        import cv2
        logging.getLogger(__name__).warning(
            '%s is %s, its image %s: resized (nearest).', name, out.shape, tuple(image_size))
        out = cv2.resize(out, (image_size[1], image_size[0]), interpolation=cv2.INTER_NEAREST)
    return out


def _refuse_unturned_mask(image_path: str, mask_path: str, mask_shape: Tuple[int, int],
                          name: str) -> None:
    """Refuse a mask that matches an EXIF-rotated image's stored pixels (see the module doc)."""
    from ..datasets.segmentation.orientation import exif_orientation, orientation_problem
    try:
        with Image.open(image_path) as image:
            orientation, stored = exif_orientation(image), image.size
    except OSError:
        return  # the image reader names an unreadable image
    problem = orientation_problem(image_path, mask_path, orientation, stored,
                                  (mask_shape[1], mask_shape[0]))
    if problem:
        raise SupportMaskError(f'{name}: {problem}')
