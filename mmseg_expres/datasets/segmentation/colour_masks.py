"""Colour masks (RGB, one colour a class) to the single-channel label maps mmseg reads.

A palette is a JSON file (``{"name": [r, g, b], ...}`` in label order, a list of
``[r, g, b]``, or ``{"classes": [...], "palette": [...]}``) or a classes file with a
colour on each line (``sky 70 130 180``, ``sky,70,130,180`` or ``sky #4682b4``).
Colours not in the palette are refused with their pixel counts, never mapped to a guess.
"""
import json
import re
from typing import Dict, List, Optional, Tuple

import numpy as np

Colour = Tuple[int, int, int]


def _colour(value, where: str) -> Colour:
    if isinstance(value, str) and re.fullmatch(r'#?[0-9a-fA-F]{6}', value.strip()):
        text = value.strip().lstrip('#')
        return tuple(int(text[i:i + 2], 16) for i in (0, 2, 4))
    if (isinstance(value, (list, tuple)) and len(value) == 3
            and all(isinstance(v, int) and 0 <= v <= 255 for v in value)):
        return tuple(value)
    raise ValueError(f'{where}: {value!r} is not a colour; write [r, g, b] with 0-255 '
                     'integers or #rrggbb.')


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
        colours = [_colour(v, f'{path} entry {i}') for i, v in enumerate(values)]
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
            colours.append(_colour(value, f'{path} line {i}'))
    repeated = sorted({c for c in colours if colours.count(c) > 1})
    if repeated:
        raise ValueError(f'{path}: colours {repeated} stand for more than one class.')
    if names is not None and len(names) != len(colours):
        raise ValueError(f'{path}: {len(names)} classes but {len(colours)} colours.')
    return names, colours


def colours_to_labels(rgb: np.ndarray, colours: List[Colour]
                      ) -> Tuple[np.ndarray, Dict[Colour, int]]:
    """``(H, W, 3)`` uint8 colours -> ``(H, W)`` uint8 labels, and unknown colours.

    Returns:
        The label map (unknown colours left at 255) and ``{colour: pixels}`` of the
        colours that are not in ``colours``.
    """
    codes = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) \
        | rgb[..., 2].astype(np.int32)
    palette_codes = np.array([(r << 16) | (g << 8) | b for r, g, b in colours], np.int32)
    order = np.argsort(palette_codes)
    sorted_codes = palette_codes[order]
    pos = np.clip(np.searchsorted(sorted_codes, codes), 0, len(colours) - 1)
    known = sorted_codes[pos] == codes
    labels = np.where(known, order[pos], 255).astype(np.uint8)
    values, counts = np.unique(codes[~known], return_counts=True)
    unknown = {((int(v) >> 16) & 255, (int(v) >> 8) & 255, int(v) & 255): int(c)
               for v, c in zip(values, counts)}
    return labels, unknown
