"""Colour masks (RGB, one colour a class) to the single-channel label maps mmseg reads.

A palette is a JSON file (``{"name": [r, g, b], ...}`` in label order, a list of
``[r, g, b]``, or ``{"classes": [...], "palette": [...]}``) or a classes file with a
colour on each line (``sky 70 130 180``, ``sky,70,130,180`` or ``sky #4682b4``).
Colours not in the palette are refused with their pixel counts, never mapped to a guess;
void colours can be mapped to the ignore index (255). Colours are compared as packed
integer codes (:func:`colour_codes`), about 100 times faster than ``np.unique(axis=0)``
on rows of three bytes.
"""
import json
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

Colour = Tuple[int, int, int]
IGNORE_INDEX = 255
#: labels 0..254 fit an 8-bit label map beside the ignore index
MAX_CLASSES = IGNORE_INDEX


def colour_codes(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` uint8 colours -> ``(...)`` int32 codes ``r << 16 | g << 8 | b``.

    Codes sort as the colours do (by r, then g, then b).
    """
    return (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) \
        | rgb[..., 2].astype(np.int32)


def code_colour(code: int) -> Colour:
    """The (r, g, b) of a :func:`colour_codes` code."""
    code = int(code)
    return (code >> 16) & 255, (code >> 8) & 255, code & 255


def parse_rgb(text: str, option: str = '--color') -> Colour:
    """``'R,G,B'`` (each 0..255) as a tuple, for a command-line option.

    Raises:
        ValueError: anything else, naming ``option``.
    """
    try:
        values = tuple(int(v) for v in text.split(','))
    except ValueError:
        values = ()
    if len(values) != 3 or not all(0 <= v <= 255 for v in values):
        raise ValueError(f'{option} {text}: give the colour as R,G,B, each 0..255 '
                         '(e.g. 255,0,0 for red).')
    return values


def as_colour(value, where: str) -> Colour:
    """``[r, g, b]`` (0-255 integers), ``'#rrggbb'`` or ``'r,g,b'`` as a tuple.

    Raises:
        ValueError: anything else, naming ``where``.
    """
    if isinstance(value, str) and re.fullmatch(r'\s*\d+\s*,\s*\d+\s*,\s*\d+\s*', value):
        value = [int(v) for v in value.split(',')]
    if isinstance(value, str) and re.fullmatch(r'#?[0-9a-fA-F]{6}', value.strip()):
        text = value.strip().lstrip('#')
        return tuple(int(text[i:i + 2], 16) for i in (0, 2, 4))
    if (isinstance(value, (list, tuple)) and len(value) == 3
            and all(isinstance(v, int) and 0 <= v <= 255 for v in value)):
        return tuple(value)
    raise ValueError(f'{where}: {value!r} is not a colour; write [r, g, b] with 0-255 '
                     'integers, R,G,B or #rrggbb.')


def read_palette(path: str) -> Tuple[Optional[List[str]], List[Colour]]:
    """Class names (None if the file has none) and colours, in label order.

    Raises:
        ValueError: a line or entry that is not a colour, or a colour used twice.
    """
    with open(path, encoding='utf-8') as f:
        text = f.read()
    names: Optional[List[str]]
    if path.endswith('.json'):
        data = json.loads(text)
        if isinstance(data, dict) and 'palette' in data:
            names, values = data.get('classes'), data['palette']
        elif isinstance(data, dict):
            names, values = list(data), list(data.values())
        else:
            names, values = None, data
        colours = [as_colour(v, f'{path} entry {i}') for i, v in enumerate(values)]
    else:
        names, colours = [], []
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            parts = [p for p in re.split(r'[\s,]+', line.strip()) if p]
            if len(parts) == 2:
                name, value = parts[0], parts[1]
            elif len(parts) == 4 and all(p.isdigit() for p in parts[1:]):
                name, value = parts[0], [int(p) for p in parts[1:]]
            else:
                raise ValueError(f'{path} line {i}: {line!r}; write "name r g b" or '
                                 '"name #rrggbb".')
            names.append(name)
            colours.append(as_colour(value, f'{path} line {i}'))
    repeated = sorted({c for c in colours if colours.count(c) > 1})
    if repeated:
        raise ValueError(f'{path}: colours {repeated} stand for more than one class.')
    if names is not None and len(names) != len(colours):
        raise ValueError(f'{path}: {len(names)} classes but {len(colours)} colours.')
    return names, colours


def check_label_colours(colours: Sequence[Colour], ignore_colours: Sequence[Colour] = ()
                        ) -> None:
    """Refuse a palette that an 8-bit label map cannot hold, or that a void colour joins.

    Raises:
        ValueError: more than :data:`MAX_CLASSES` colours, or a colour both a class and
            ignored.
    """
    if not colours:
        raise ValueError('The palette has no colours: list one colour a class.')
    if len(colours) > MAX_CLASSES:
        raise ValueError(
            f'The palette has {len(colours)} colours, but a label map holds labels '
            f'0..{MAX_CLASSES - 1} ({IGNORE_INDEX} marks ignored pixels) in 8 bits, and '
            'mmseg reads every mask as 8-bit (a 16-bit mask would wrap). Merge classes '
            f'to at most {MAX_CLASSES}, or mark void colours with --ignore-colour R,G,B.')
    both = sorted(set(colours) & set(ignore_colours))
    if both:
        raise ValueError(f'Colours {both} are in the palette and ignored: drop them from '
                         'one of the two.')


def colours_to_labels(rgb: np.ndarray, colours: Sequence[Colour],
                      ignore_colours: Sequence[Colour] = ()
                      ) -> Tuple[np.ndarray, Dict[Colour, int]]:
    """``(H, W, 3)`` uint8 colours -> ``(H, W)`` uint8 labels, and unknown colours.

    Args:
        rgb: the colour mask.
        colours: colour i is label i (at most :data:`MAX_CLASSES`).
        ignore_colours: void colours, labelled :data:`IGNORE_INDEX`.

    Returns:
        The label map (unknown colours left at 255) and ``{colour: pixels}`` of the
        colours that are in neither list.
    """
    check_label_colours(colours, ignore_colours)
    codes = colour_codes(rgb)
    palette_codes = colour_codes(np.array(list(colours) + list(ignore_colours),
                                          np.uint8).reshape(-1, 3))
    targets = np.array(list(range(len(colours))) + [IGNORE_INDEX] * len(ignore_colours))
    order = np.argsort(palette_codes)
    sorted_codes = palette_codes[order]
    pos = np.clip(np.searchsorted(sorted_codes, codes), 0, len(sorted_codes) - 1)
    known = sorted_codes[pos] == codes
    labels = np.where(known, targets[order][pos], IGNORE_INDEX).astype(np.uint8)
    values, counts = np.unique(codes[~known], return_counts=True)
    return labels, {code_colour(v): int(c) for v, c in zip(values, counts)}
