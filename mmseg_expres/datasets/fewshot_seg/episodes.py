"""Which images show which class, and the episodes drawn from them.

An episode is a query image, K support images (the shot) and the class c that all of
them show; the model segments c in the query from the supports' masks of c.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence

import numpy as np
from PIL import Image

#: image name -> {label value: pixel count}, background (0) and ignore (255) left out.
ClassIndex = Dict[str, Dict[int, int]]
IGNORE = 255


class Episode(NamedTuple):
    """One episode: the class, the query image's name and the support images' names."""
    cls: int
    query: str
    supports: List[str]


def read_names(list_file: str) -> List[str]:
    """Image names of an mmseg list file (one name per line, without suffix).

    Raises:
        FileNotFoundError: the list file is missing.
    """
    if not osp.isfile(list_file):
        raise FileNotFoundError(
            f'List file {list_file!r} does not exist. PASCAL-5i reads the lists that '
            "mmseg's tools/dataset_converters/voc_aug.py writes (ImageSets/Segmentation/"
            'trainaug.txt, val.txt); COCO-20i those of tools/dataset_converters/'
            'coco20i_masks.py. Check data_root (--cfg-options data_root=...).')
    with open(list_file, encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip()]


def check_listed_files(folder: str, names: Sequence[str], suffix: str, what: str) -> None:
    """Every listed name has its file ``<folder>/<name><suffix>``.

    Raises:
        FileNotFoundError: naming the missing files (the first ten) and how many.
    """
    missing = [n + suffix for n in names if not osp.isfile(osp.join(folder, n + suffix))]
    if missing:
        more = f' and {len(missing) - 10} more' if len(missing) > 10 else ''
        raise FileNotFoundError(
            f'{len(missing)} of {len(names)} listed images have no {what} under '
            f'{folder!r}: {", ".join(missing[:10])}{more}. Re-run the converter, copy the '
            'missing files, or remove them from the list file.')


def count_classes(seg_dir: str, names: Sequence[str], suffix: str = '.png') -> ClassIndex:
    """Pixel count of every class in each image's mask.

    Raises:
        FileNotFoundError: a listed image has no mask.
    """
    check_listed_files(seg_dir, names, suffix, 'mask')
    index = {}
    for name in names:
        counts = np.bincount(np.asarray(Image.open(osp.join(seg_dir, name + suffix))).ravel(),
                             minlength=256)
        index[name] = {int(c): int(counts[c]) for c in np.flatnonzero(counts)
                       if c not in (0, IGNORE)}
    return index


def index_key(seg_dir: str, names: Sequence[str], suffix: str) -> str:
    """A digest of the mask folder, the list and each mask's size and modification time:
    a mask changed in place (same name, new pixels) changes it."""
    check_listed_files(seg_dir, names, suffix, 'mask')
    digest = hashlib.sha256('\n'.join([osp.abspath(seg_dir), suffix]).encode())
    for name in names:
        stat = os.stat(osp.join(seg_dir, name + suffix))
        digest.update(f'\n{name} {stat.st_size} {stat.st_mtime_ns}'.encode())
    return digest.hexdigest()


def cached_class_index(seg_dir: str, names: Sequence[str], suffix: str,
                       cache_file: Optional[str]) -> ClassIndex:
    """:func:`count_classes`, read from ``cache_file`` when it was written for these masks.

    Reading 10k PASCAL masks takes a while; the cache is keyed by :func:`index_key`, so a
    changed list, or any mask rewritten since, recomputes it. An unwritable cache is
    skipped.
    """
    key = index_key(seg_dir, names, suffix)
    if cache_file and osp.isfile(cache_file):
        with open(cache_file, encoding='utf-8') as f:
            cached = json.load(f)
        if cached.get('key') == key:
            return {n: {int(c): v for c, v in counts.items()}
                    for n, counts in cached['index'].items()}
    index = count_classes(seg_dir, names, suffix)
    if cache_file:
        tmp = f'{cache_file}.{os.getpid()}.tmp'  # ranks of one run may write at once
        try:
            with open(tmp, 'w', encoding='utf-8') as f:
                json.dump(dict(key=key, index=index), f)
            os.replace(tmp, cache_file)
        except OSError:
            pass  # a read-only data folder: recompute next time
    return index


def images_per_class(index: ClassIndex, classes: Iterable[int],
                     min_pixels: int = 1) -> Dict[int, List[str]]:
    """For each class, the images (sorted) with at least ``min_pixels`` pixels of it."""
    return {c: sorted(n for n, counts in index.items() if counts.get(c, 0) >= min_pixels)
            for c in classes}


def check_enough_images(per_class: Dict[int, List[str]], needed: int, what: str,
                        class_names: Sequence[str]) -> None:
    """Refuse classes with fewer than ``needed`` images (a query plus K supports).

    Raises:
        ValueError: naming each such class and its count.
    """
    short = {c: len(names) for c, names in per_class.items() if len(names) < needed}
    if short:
        listed = ', '.join(f'{c} ({class_names[c - 1]}): {n}' for c, n in sorted(short.items()))
        raise ValueError(
            f'{what}: these classes have fewer than {needed} usable images (a query and '
            f'{needed - 1} support(s)): {listed}. Use a smaller shot, a lower min_pixels, '
            'or a list with more images.')


def query_pairs(per_class: Dict[int, List[str]]) -> List[tuple]:
    """Every (class, image) pair, in a fixed order: the queries episodes are drawn from."""
    return [(c, name) for c in sorted(per_class) for name in per_class[c]]


def draw_supports(rng: np.random.Generator, per_class: Dict[int, List[str]], cls: int,
                  query: str, shot: int) -> List[str]:
    """``shot`` distinct images of ``cls``, none of them the query."""
    others = [n for n in per_class[cls] if n != query]
    return [others[i] for i in rng.choice(len(others), shot, replace=False)]


def sample_episodes(per_class: Dict[int, List[str]], shot: int, num_episodes: int,
                    seed: int) -> List[Episode]:
    """``num_episodes`` test episodes, the same for the same arguments.

    As HSNet does, episode queries run through the (class, image) pairs, so a class is
    tested in proportion to its images; here in an order shuffled by ``seed`` (a new
    permutation each time the pairs are exhausted). Queries and supports come from two
    separate random streams, so the 1-shot and 5-shot episodes of one seed share their
    queries.
    """
    pairs = query_pairs(per_class)
    query_rng, support_rng = (np.random.default_rng(s)
                              for s in np.random.SeedSequence(seed).spawn(2))
    order: List[int] = []
    while len(order) < num_episodes:
        order += query_rng.permutation(len(pairs)).tolist()
    episodes = []
    for i in order[:num_episodes]:
        cls, query = pairs[i]
        episodes.append(Episode(cls, query, draw_supports(support_rng, per_class, cls,
                                                          query, shot)))
    return episodes
