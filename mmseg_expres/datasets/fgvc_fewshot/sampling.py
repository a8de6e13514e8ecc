"""Draw K-shot lists from a full training list: stratified, seeded, deterministic.

Each class's distinct images are ranked by a hash of ``(seed, path)`` and the first K are
taken. The rank depends on nothing but the seed and the path, so a draw is the same on
every machine and Python version, a class's draw does not depend on the other classes,
and the lists of one seed are nested (the 2-shot list holds the 1-shot images). NOAH's
published lists were drawn independently per shot; lists drawn here do not reproduce them.
"""
import hashlib
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

from ..lists.files import ListEntry


class TooFewImagesError(ValueError):
    """Some class has fewer distinct images than the shot asks for."""


def _rank(seed: int, path: str) -> str:
    # sha256 rather than random.Random: the order must not change with Python's version.
    return hashlib.sha256(f'{seed}\n{path}'.encode('utf-8')).hexdigest()


def images_per_class(entries: Sequence[ListEntry]) -> Dict[int, List[str]]:
    """Distinct image paths of each label, in list order.

    Raises:
        ValueError: a path listed with two different labels.
    """
    labels: Dict[str, int] = {}
    per_class: Dict[int, List[str]] = defaultdict(list)
    for entry in entries:
        known = labels.setdefault(entry.path, entry.label)
        if known != entry.label:
            raise ValueError(f'{entry.path} is listed with labels {known} and {entry.label} '
                             f'(line {entry.line_no}); fix the list first.')
        if entry.path not in per_class[entry.label]:
            per_class[entry.label].append(entry.path)
    return dict(per_class)


def draw_shots(entries: Sequence[ListEntry], shot: int, seed: int,
               num_classes: Optional[int] = None) -> List[Tuple[str, int]]:
    """The K-shot list of ``seed``: ``shot`` images of every class, ordered by class.

    Args:
        entries: the full training list.
        shot: images per class (K).
        seed: selects the draw.
        num_classes: if given, every label ``0 .. num_classes - 1`` must have K images and
            no other label may occur; else the classes are the labels present.

    Returns:
        ``(path, label)`` rows, K per class, classes in ascending order.

    Raises:
        ValueError: ``shot`` < 1, a label outside ``[0, num_classes)``, a path with two
            labels.
        TooFewImagesError: some class has fewer than ``shot`` distinct images; the message
            names every such class and its count.
    """
    if shot < 1:
        raise ValueError(f'shot must be at least 1, got {shot}.')
    per_class = images_per_class(entries)
    classes = sorted(per_class) if num_classes is None else list(range(num_classes))
    if num_classes is not None:
        outside = sorted(set(per_class) - set(classes))
        if outside:
            raise ValueError(f'labels {outside} lie outside [0, {num_classes}).')
    short = {c: len(per_class.get(c, ())) for c in classes if len(per_class.get(c, ())) < shot}
    if short:
        named = ', '.join(f'class {c}: {n}' for c, n in sorted(short.items()))
        raise TooFewImagesError(
            f'A {shot}-shot list needs {shot} distinct images of every class; '
            f'{len(short)} class(es) have fewer ({named}). Use a smaller shot, or a training '
            'list with more images of these classes.')
    rows = []
    for label in classes:
        chosen = sorted(per_class[label], key=lambda path: _rank(seed, path))[:shot]
        rows += [(path, label) for path in chosen]
    return rows
