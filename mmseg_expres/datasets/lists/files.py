"""List files: one ``relative/path label`` line per image.

The format of the VTAB-1k release, of NOAH's few-shot lists and of mmpretrain's
``CustomDataset`` with an ``ann_file``. This module imports nothing heavy, so the checkers
and list tools start fast.
"""
import os
import os.path as osp
from typing import Iterable, List, NamedTuple, Tuple


class ListEntry(NamedTuple):
    """One parsed line of a list file."""

    line_no: int
    path: str
    label: int


def read_list_file(path: str) -> Tuple[List[ListEntry], List[str]]:
    """Parse a ``relative/path label`` list file, collecting malformed lines.

    The path may contain spaces: the label is the last field, as mmpretrain's
    ``CustomDataset`` reads it.

    Returns:
        The parsed entries, and one message per line that is not ``path <int>``.
    """
    entries, problems = [], []
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            parts = line.rsplit(' ', 1)
            if len(parts) != 2 or not parts[1].lstrip('-').isdigit():
                problems.append(f'{path}:{line_no}: expected "relative/path label", got '
                                f'{line!r}')
                continue
            entries.append(ListEntry(line_no, parts[0], int(parts[1])))
    return entries, problems


def write_list_file(path: str, rows: Iterable[Tuple[str, int]]) -> None:
    """Write ``(relative path, label)`` rows as a list file, atomically.

    A crash never leaves half a list behind that a later run would take for a whole one.
    """
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.writelines(f'{rel} {label}\n' for rel, label in rows)
    os.replace(tmp, path)
