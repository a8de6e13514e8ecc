"""How images and masks are read: images as they are shown, masks as they are stored.

Phone cameras store a photo's pixels as the sensor saw them and an EXIF Orientation tag
(0x0112) that tells viewers how to turn it. The project makes one decision for every
reader (training and test pipelines, ``inference_model``, ``tools/infer.py``, the data
check, few-shot supports):

* **An image is read as shown**: its EXIF orientation is applied, as mmcv does
  (``LoadImageFromFile`` and ``mmcv.imread`` decode with OpenCV's ``IMREAD_COLOR``, or
  Pillow with ``ImageOps.exif_transpose``) and as every photo viewer does.
* **A mask is label data, read as stored** (mmseg's ``LoadAnnotations`` decodes it
  ``unchanged``); an EXIF tag on a mask is ignored.
* So **a mask must be drawn on the photo as shown**, which is what annotation tools and
  people looking at the photo do. When the photo turns by 90 degrees and is not square,
  the mask's size tells which one it was drawn on: a mask of the shown size pairs as
  meant; a mask of the stored size was drawn on the unturned pixels and is reported,
  with the command that turns it (:func:`turn_mask_command`). When the sizes cannot tell
  (a square photo, or an orientation that only mirrors or turns by 180 degrees), the
  pair is reported too: bake the orientation into the photo (:func:`bake_command`), so
  that every program sees the same pixels, and look at the pair.

:func:`orientation_problem` is that rule; the data check
(:mod:`.label_check`) and the few-shot support reader
(:mod:`mmseg_expres.apis.support_masks`) both apply it.
"""
import shlex
from typing import Optional, Sequence, Tuple

from PIL import Image

ORIENTATION_TAG = 0x0112
#: EXIF orientation -> how the stored pixels are shown
SHOWN_AS = {2: 'mirrored left-right', 3: 'turned 180 degrees', 4: 'mirrored top-bottom',
            5: 'mirrored and turned 90 degrees counter-clockwise',
            6: 'turned 90 degrees clockwise',
            7: 'mirrored and turned 90 degrees clockwise',
            8: 'turned 90 degrees counter-clockwise'}
#: EXIF orientation -> the ``Image.transpose`` method that shows it (Pillow's
#: ``ImageOps.exif_transpose`` table, which OpenCV's EXIF handling matches)
TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
             4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
             6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
             8: Image.Transpose.ROTATE_90}
ORIENTATION_KIND = 'EXIF-rotated image'

Size = Tuple[int, int]  # (w, h), as Pillow gives it


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation of an opened image (1, as stored, if none or unreadable).

    Reads the header only: a PNG whose EXIF chunk follows the pixels (Pillow would decode
    the whole image to find it) counts as stored.
    """
    if image.format == 'PNG' and 'exif' not in image.info:
        return 1
    try:
        value = image.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block: viewers show the pixels as stored
        return 1
    return value if value in TRANSPOSE else 1


def shown_size(stored: Sequence[int], orientation: int) -> Size:
    """(w, h) of the image as shown, from its stored (w, h) and EXIF orientation."""
    w, h = stored
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def bake_command(image_path: str) -> str:
    """A command that rewrites images with their orientation applied (and the tag gone).

    A JPEG is re-encoded (quality 95); images without an orientation are left alone, so
    the command can be given a whole folder's images.
    """
    return ('python -c "import sys; from PIL import Image, ImageOps; '
            '[ImageOps.exif_transpose(i).save(p, quality=95) for p in sys.argv[1:] '
            'for i in [Image.open(p)] if i.getexif().get(0x0112, 1) != 1]" '
            + shlex.quote(image_path))


def turn_mask_command(mask_path: str, orientation: int) -> str:
    """A command that turns a mask as an image of that EXIF orientation is shown.

    Lossless for a PNG; a palette mask keeps its palette.
    """
    return ('python -c "import sys; from PIL import Image; '
            f'Image.open(sys.argv[1]).transpose({int(TRANSPOSE[orientation])}).save(sys.argv[1])" '
            + shlex.quote(mask_path))


def orientation_problem(image_path: str, mask_path: str, orientation: int, stored: Size,
                        mask_size: Size) -> Optional[str]:
    """Why a mask does not pair with an EXIF-rotated image as shown, or None if it does.

    Args:
        image_path, mask_path: for the commands in the message.
        orientation: the image's EXIF orientation.
        stored: the image's stored (w, h).
        mask_size: the mask's (w, h).

    Returns:
        None when the image is stored as shown, or when the mask has the shown size and
        not the stored one (drawn on the photo as shown); a size that matches neither is
        the size check's business and also gives None. Otherwise the message, with the
        fix.
    """
    stored, mask_size = tuple(stored), tuple(mask_size)
    shown = shown_size(stored, orientation)
    if orientation == 1 or mask_size != stored:
        return None
    how = (f'{image_path} carries EXIF orientation {orientation}: it is stored '
           f'{stored[0]}x{stored[1]} (w x h) and shown {SHOWN_AS[orientation]}, and images '
           'are read as shown (training, inference and viewers alike) while masks are read '
           'as stored')
    if shown != stored:
        return (f'{how}; this mask has the stored size, so it was drawn on the unturned '
                f'pixels and would not cover the photo. Turn the mask as the photo is '
                f'shown: {turn_mask_command(mask_path, orientation)}')
    return (f'{how}; the sizes cannot tell whether this mask was drawn on the photo as '
            f'shown or on the stored pixels. Bake the orientation into the photo, so that '
            f'every program sees the same pixels: {bake_command(image_path)} ; then look '
            'at the pair, and if the mask was drawn on the stored pixels, turn it too: '
            f'{turn_mask_command(mask_path, orientation)}')
