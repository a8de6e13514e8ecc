"""VTAB-1k: the 19 tasks, their groups, class counts and split sizes, and list files.

The layout is the widely shared VTAB-1k image-folder release (the one VPT, NOAH and SSF
train on): one folder per task, images anywhere below it, and four list files whose lines
are ``relative/path label`` (read by :mod:`..lists.files`)::

    <root>/<task>/train800.txt  val200.txt  train800val200.txt  test.txt  images/...

This module only describes the benchmark; it imports nothing heavy, so the checker and
the protocol tools start fast.
"""
import os.path as osp
from typing import Dict, List, NamedTuple, Tuple


class VtabTask(NamedTuple):
    """One VTAB-1k task.

    Attributes:
        name: folder name in the VTAB-1k release.
        num_classes: labels are ``0 .. num_classes - 1``.
        group: ``'natural'``, ``'specialized'`` or ``'structured'``.
        test_size: images in ``test.txt`` of the release: VTAB's full test split of the
            source data set, which is larger than 1000 for every task (VPT, appendix,
            data set table).
    """

    name: str
    num_classes: int
    group: str
    test_size: int


#: VPT's task list, in VPT's table order (Natural 7, Specialized 4, Structured 8).
VTAB_TASKS: Dict[str, VtabTask] = {t.name: t for t in (
    VtabTask('cifar', 100, 'natural', 10000),
    VtabTask('caltech101', 102, 'natural', 6084),
    VtabTask('dtd', 47, 'natural', 1880),
    VtabTask('oxford_flowers102', 102, 'natural', 6149),
    VtabTask('oxford_iiit_pet', 37, 'natural', 3669),
    VtabTask('svhn', 10, 'natural', 26032),
    VtabTask('sun397', 397, 'natural', 21750),
    VtabTask('patch_camelyon', 2, 'specialized', 32768),
    VtabTask('eurosat', 10, 'specialized', 5400),
    VtabTask('resisc45', 45, 'specialized', 6300),
    VtabTask('diabetic_retinopathy', 5, 'specialized', 42670),
    VtabTask('clevr_count', 8, 'structured', 15000),
    VtabTask('clevr_dist', 6, 'structured', 15000),
    VtabTask('dmlab', 6, 'structured', 22735),
    VtabTask('kitti', 4, 'structured', 711),
    VtabTask('dsprites_loc', 16, 'structured', 73728),
    VtabTask('dsprites_ori', 16, 'structured', 73728),
    VtabTask('smallnorb_azi', 18, 'structured', 12150),
    VtabTask('smallnorb_ele', 9, 'structured', 12150),
)}

GROUPS: Tuple[str, ...] = ('natural', 'specialized', 'structured')

#: Fixed sizes of the VTAB-1k training splits; ``test`` is per task (``VtabTask.test_size``).
TRAIN_SPLIT_SIZES: Dict[str, int] = {'train800': 800, 'val200': 200, 'train800val200': 1000}
SPLITS: Tuple[str, ...] = ('train800', 'val200', 'train800val200', 'test')


def get_task(name: str) -> VtabTask:
    """The task called ``name``; a clear error lists the known names."""
    if name not in VTAB_TASKS:
        raise KeyError(f'Unknown VTAB-1k task {name!r}; use one of: {", ".join(VTAB_TASKS)}.')
    return VTAB_TASKS[name]


def tasks_in_group(group: str) -> List[str]:
    """Task names of one group, in table order."""
    return [t.name for t in VTAB_TASKS.values() if t.group == group]


def expected_size(task: str, split: str) -> int:
    """Number of lines ``<split>.txt`` has in the VTAB-1k release."""
    return get_task(task).test_size if split == 'test' else TRAIN_SPLIT_SIZES[split]


def list_file(root: str, task: str, split: str) -> str:
    """Path of the list file of ``split`` (``train800``, ``val200``, ...) of ``task``."""
    if split not in SPLITS:
        raise ValueError(f'Unknown VTAB-1k split {split!r}; use one of {SPLITS}.')
    return osp.join(root, task, f'{split}.txt')
