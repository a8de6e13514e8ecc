"""The class names and colours of a custom segmentation data set, read as the user meant.

``classes`` is a list of names or a text file with one name a line; ``palette`` one
``[r, g, b]`` per class. Both are refused with the fix when they cannot be what the user
meant (an empty file, a repeated name, a palette of another length).
"""
import os.path as osp
from typing import List, Optional, Sequence, Union


def read_classes(classes: Union[str, Sequence[str]], data_root: str = '') -> List[str]:
    """The class names, from a list or from a text file with one name a line.

    Args:
        classes: the names, or the path of a text file (relative paths are read from
            ``data_root``). Blank lines and surrounding spaces in the file are ignored.
        data_root: the data set's folder.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: no names, a repeated name, or something that is neither.
    """
    if isinstance(classes, str):
        path = classes if osp.isabs(classes) else osp.join(data_root, classes)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'classes={classes!r}: no file {path!r}. Write the class names there, one '
                'a line in label order (line 1 is label 0), or set classes to a list.')
        with open(path, encoding='utf-8') as f:
            names = [line.strip() for line in f if line.strip()]
        source = path
    elif isinstance(classes, (list, tuple)) and all(isinstance(c, str) for c in classes):
        names, source = [c.strip() for c in classes], 'classes'
    else:
        raise ValueError(f'classes={classes!r}: give a list of names or the path of a text '
                         'file with one name a line.')
    if not names:
        raise ValueError(f'{source} names no class: write one class name a line, label 0 '
                         'first.')
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f'{source} names {repeated} more than once ({len(names)} names); '
                         'each label needs its own name, so the class count is ambiguous.')
    return names


def check_palette(palette: Optional[Sequence[Sequence[int]]],
                  classes: Sequence[str]) -> Optional[List[List[int]]]:
    """The palette as lists of three 0-255 ints, one per class (None stays None).

    Raises:
        ValueError: another number of colours than classes, or a colour that is not
            three integers in 0-255.
    """
    if palette is None:
        return None
    palette = [list(c) for c in palette]
    if len(palette) != len(classes):
        raise ValueError(f'palette has {len(palette)} colours for {len(classes)} classes; '
                         'give one [r, g, b] per class, in the order of classes (or '
                         'palette=None for random colours).')
    bad = [c for c in palette if len(c) != 3 or not all(
        isinstance(v, int) and 0 <= v <= 255 for v in c)]
    if bad:
        raise ValueError(f'palette colours {bad[:3]} are not [r, g, b] with integers in '
                         '0-255.')
    return palette
