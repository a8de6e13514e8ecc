"""The FGVC few-shot benchmark: five fine-grained data sets, K images per class.

NOAH (Zhang et al., "Neural Prompt Search", 2022) and the parameter-efficient tuning
papers after it train the ImageNet-21k ViT-B/16 on K = 1, 2, 4, 8, 16 images per class,
each drawn with seeds 0, 1, 2, and test on the full test split. NOAH publishes the lists
(``data/few-shot/<name>/annotations/`` in its repository); this is their layout::

    <root>/<name>/annotations/train_meta.list.num_shot_<K>.seed_<S>   the K-shot lists
                              val_meta.list  test_meta.list           val and test splits
                              train_meta.list        the full training split (optional)
    <root>/<name>/images/...      every data set but Stanford Cars
    <root>/standford-cars/cars_train/...  cars_test/...   (its lists name the folder)

Every line is ``relative/path label`` (:mod:`..lists.files`). The folder names are those of
NOAH's published lists, ``standford-cars`` misspelt as there, so the files drop in.

This module only describes the benchmark; it imports nothing heavy.
"""
import os
import os.path as osp
import re
from typing import Dict, NamedTuple, Optional, Tuple


class FewShotDataset(NamedTuple):
    """One data set of the benchmark.

    Attributes:
        name: folder name, as in NOAH's published lists.
        title: the data set's usual name.
        num_classes: labels are ``0 .. num_classes - 1``.
        image_dir: the folder inside ``<root>/<name>`` that list paths are relative to.
        val_size: lines of NOAH's ``val_meta.list`` (None: not known).
        test_size: lines of NOAH's ``test_meta.list`` (None: not known).
        script_name: what NOAH's training scripts call it (``--data-set <name>-FS``).
    """

    name: str
    title: str
    num_classes: int
    image_dir: str
    val_size: Optional[int]
    test_size: Optional[int]
    script_name: str


#: The five data sets, in the column order of the published values (docs/fewshot.md). The
#: split sizes are the line counts of NOAH's published val/test lists.
FEWSHOT_DATASETS: Dict[str, FewShotDataset] = {d.name: d for d in (
    FewShotDataset('food101', 'Food-101', 101, 'images', 20200, 30300, 'food-101'),
    FewShotDataset('standford-cars', 'Stanford Cars', 196, '', 1635, 8041, 'stanford_cars'),
    FewShotDataset('oxford-flowers102', 'Oxford Flowers-102', 102, 'images', 1633, 2463,
                   'oxford_flowers'),
    FewShotDataset('fgvc-aircraft', 'FGVC-Aircraft', 100, 'images', 3333, 3333,
                   'fgvc_aircraft'),
    FewShotDataset('oxford-pets', 'Oxford-IIIT Pets', 37, 'images', 736, 3669, 'oxford_pets'),
)}

SHOTS: Tuple[int, ...] = (1, 2, 4, 8, 16)
SEEDS: Tuple[int, ...] = (0, 1, 2)
#: ``shots`` is the K-shot list of a shot and seed; the others are fixed files.
SPLITS: Tuple[str, ...] = ('shots', 'train', 'val', 'test')
ANNOTATIONS = 'annotations'
SPLIT_FILES = {'train': 'train_meta.list', 'val': 'val_meta.list', 'test': 'test_meta.list'}
_SHOT_LIST = re.compile(r'^train_meta\.list\.num_shot_(\d+)\.seed_(\d+)$')


def get_dataset(name: str, custom_num_classes: Optional[int] = None) -> FewShotDataset:
    """The benchmark's data set called ``name``, or a data set of your own.

    Args:
        name: a folder name of :data:`FEWSHOT_DATASETS`, or of your own data set in the
            same layout (images under ``images/``).
        custom_num_classes: the class count of your own data set; None for the
            benchmark's, whose counts are known.

    Raises:
        KeyError: an unknown name without ``custom_num_classes``.
        ValueError: ``custom_num_classes`` given for one of the benchmark's data sets.
    """
    if name in FEWSHOT_DATASETS:
        if custom_num_classes is not None:
            raise ValueError(
                f'{name} is a data set of the few-shot benchmark with '
                f'{FEWSHOT_DATASETS[name].num_classes} classes; custom_num_classes is only '
                'for data sets of your own. Leave it unset.')
        return FEWSHOT_DATASETS[name]
    if custom_num_classes is not None:
        return FewShotDataset(name, name, int(custom_num_classes), 'images', None, None, '')
    by_script = {d.script_name: d.name for d in FEWSHOT_DATASETS.values()}
    hint = (f" NOAH's scripts call it {name!r}; its published lists, and this project, "
            f'use the folder name {by_script[name]!r}.' if name in by_script else '')
    raise KeyError(f'Unknown few-shot data set {name!r}; use one of: '
                   f'{", ".join(FEWSHOT_DATASETS)}.{hint} For a data set of your own in '
                   'the same layout, also set custom_num_classes=<number of classes>.')


def shot_list_name(shot: int, seed: int) -> str:
    """File name of the K-shot list, e.g. ``train_meta.list.num_shot_4.seed_0``."""
    return f'train_meta.list.num_shot_{shot}.seed_{seed}'


def list_file(root: str, name: str, split: str, shot: Optional[int] = None,
              seed: Optional[int] = None) -> str:
    """Path of a list file of data set ``name``; ``shots`` needs ``shot`` and ``seed``."""
    if split not in SPLITS:
        raise ValueError(f'Unknown few-shot split {split!r}; use one of {SPLITS} ("shots" is '
                         'the K-shot list of `shot` and `seed`).')
    if split == 'shots':
        if shot is None or seed is None:
            raise ValueError('The "shots" split needs a shot and a seed.')
        return osp.join(root, name, ANNOTATIONS, shot_list_name(int(shot), int(seed)))
    return osp.join(root, name, ANNOTATIONS, SPLIT_FILES[split])


def find_shot_lists(root: str, name: str) -> Dict[Tuple[int, int], str]:
    """The K-shot lists in ``<root>/<name>/annotations``, as ``{(shot, seed): path}``."""
    folder = osp.join(root, name, ANNOTATIONS)
    found = {}
    for entry in sorted(os.listdir(folder)) if osp.isdir(folder) else ():
        match = _SHOT_LIST.match(entry)
        if match:
            found[(int(match[1]), int(match[2]))] = osp.join(folder, entry)
    return found


def describe_shot_lists(found: Dict[Tuple[int, int], str]) -> str:
    """``found`` in words, e.g. ``shots 1, 2 (seeds 0, 1, 2)``, for error messages."""
    if not found:
        return 'no K-shot lists'
    shots = sorted({shot for shot, _ in found})
    parts = []
    for shot in shots:
        seeds = ', '.join(str(s) for s in sorted(s for k, s in found if k == shot))
        parts.append(f'{shot} (seeds {seeds})')
    return 'shots ' + '; '.join(parts)


def missing_list_message(root: str, name: str, split: str, shot: Optional[int] = None,
                         seed: Optional[int] = None) -> str:
    """Why a list file the run needs is missing, and what to do about it."""
    path = list_file(root, name, split, shot, seed)
    if not osp.isdir(osp.join(root, name)):
        return (f'{osp.join(root, name)} does not exist. Point fewshot_root at the folder '
                'that holds one sub-folder per data set (--cfg-options '
                'fewshot_root=/path/to/few-shot) and check it with `python '
                'tools/fewshot/check_fewshot.py /path/to/few-shot`.')
    if split != 'shots':
        return (f'{path} is missing. NOAH publishes val_meta.list and test_meta.list with '
                f'the K-shot lists (data/few-shot/<name>/annotations in its repository).')
    found = find_shot_lists(root, name)
    return (f'No {shot}-shot list for seed {seed}: {path} is missing. '
            f'{osp.dirname(path)} has {describe_shot_lists(found)}. Pick one of those, or '
            f'draw the list from the full training list: `python '
            f'tools/fewshot/make_fewshot_lists.py {list_file(root, name, "train")} '
            f'--shots {shot} --seeds {seed}`.')
