"""The colours predictions are drawn in, when the user gives them at inference.

Colours are a drawing choice: the palette a checkpoint carries (set before training, or
random) is a default that ``tools/infer.py --palette`` (or ``--cfg-options palette=...``)
replaces, without retraining. A palette is a file (a classes file with a colour on each
line, ``sky 70 130 180`` or ``sky #4682b4``, or JSON: the converter's formats,
:func:`~mmseg_expres.datasets.segmentation.colour_masks.read_palette`) or the colours
themselves, in label order: ``'255,0,0 0,128,0'``, ``'#ff0000;#008000'`` or a list of
``[r, g, b]``.
"""
import os.path as osp
from typing import Mapping, Optional, Sequence, Tuple, Union

import numpy as np

PaletteSpec = Union[str, Sequence]


def palette_for(model, meta: Optional[Mapping], palette: Optional[PaletteSpec] = None,
                config: bool = True) -> Tuple[Tuple[str, ...], np.ndarray]:
    """The class names and colours to draw ``model``'s predictions in.

    ``palette`` if given (:func:`drawing_palette`), else the palette the model's config
    gives its test data set (``config``: a custom-data config's ``palette``), else
    ``meta``'s (the checkpoint's ``dataset_meta``), else fixed random colours
    (:func:`~.drawing.class_palette`). The classes are ``meta``'s.
    """
    from .drawing import class_palette
    chosen = palette if palette is not None else (configured_palette(model) if config
                                                  else None)
    if chosen is not None:  # colours are a drawing choice, not the checkpoint's
        colours = drawing_palette(chosen, (meta or {}).get('classes') or ())
        meta = dict(meta or {}, palette=colours.tolist())
    return class_palette(meta)


def configured_palette(model) -> Optional[list]:
    """The palette the model's config gives its test data set, None if it sets none."""
    cfg = getattr(model, 'cfg', None) or {}
    dataset = (cfg.get('test_dataloader') or {}).get('dataset') or {}
    return (dataset.get('metainfo') or {}).get('palette')


def drawing_palette(spec: PaletteSpec, classes: Sequence[str]) -> np.ndarray:
    """The ``(len(classes), 3)`` uint8 RGB palette that ``spec`` gives.

    Raises:
        ValueError: not one colour per class, a colour that is not one, or a palette
            file whose class names are not the model's (in order).
    """
    from ..datasets.segmentation.colour_masks import as_colour, read_palette
    names = None
    if isinstance(spec, str) and osp.isfile(spec):
        names, colours = read_palette(spec)
        where = spec
    else:
        items = spec.replace(';', ' ').split() if isinstance(spec, str) else list(spec)
        try:
            colours = [as_colour(item, f'palette colour {i}') for i, item in enumerate(items)]
        except ValueError as error:
            if isinstance(spec, str) and len(items) == 1:  # a file name, mistyped?
                raise ValueError(f'palette {spec!r}: no such file, and not a list of '
                                 f'colours ({error})') from error
            raise
        where = 'the palette'
    if len(colours) != len(classes):
        raise ValueError(
            f'{where} has {len(colours)} colour(s) for the model\'s {len(classes)} classes '
            f'{list(classes)}: give one colour per class, in this order (a file with '
            '"name r g b" a line, or colours such as "255,0,0 0,128,0" or "#ff0000;#008000").')
    if names and list(names) != list(classes):
        raise ValueError(f'{where} names the classes {names}, but the model\'s are '
                         f'{list(classes)}: put the colours in the model\'s order, under its '
                         'names.')
    return np.asarray(colours, np.uint8).reshape(-1, 3)
