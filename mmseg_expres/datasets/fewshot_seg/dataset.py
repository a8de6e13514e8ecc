"""Episodic PASCAL-5i / COCO-20i data sets for mmseg's runner, and the binary-mask transform.

One item is one episode: ``inputs`` (1 + K, 3, H, W), the query first, and the query's
``SegDataSample`` whose ``gt_sem_seg`` is the binary mask of the episode's class and
whose ``support_masks`` (K, H, W) are the supports' binary masks (1 = the class, 0 =
anything else, 255 = ignored).
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform, Compose
from mmengine.structures import PixelData
from mmseg.registry import DATASETS, TRANSFORMS

from .episodes import (IGNORE, Episode, cached_class_index, check_enough_images,
                       check_listed_files, draw_supports, images_per_class, query_pairs,
                       read_names, sample_episodes)
from .splits import base_classes, get_benchmark, novel_classes

MODES = ('train', 'test')


@TRANSFORMS.register_module()
class EpisodeBinaryMask(BaseTransform):
    """``gt_seg_map`` -> 1 where it is the episode's class, 255 where ignored, else 0.

    Every other class, base or novel, becomes background: in meta-training the pixels
    of novel classes are background like any class that is not the episode's.
    Needs ``results['episode_class']``, which the episodic data sets set.
    """

    def transform(self, results: dict) -> dict:
        label = results['gt_seg_map']
        binary = (label == results['episode_class']).astype(np.uint8)
        binary[label == IGNORE] = IGNORE
        results['gt_seg_map'] = binary
        return results


def build_pipeline(transforms: Sequence[Union[dict, callable]]) -> Compose:
    """Transforms from mmseg's registry, whatever the default scope (mmcv's has another
    ``LoadAnnotations``)."""
    return Compose([TRANSFORMS.build(t) if isinstance(t, dict) else t for t in transforms])


@DATASETS.register_module()
class FewShotSegDataset:
    """Episodes of one fold of PASCAL-5i or COCO-20i.

    ``mode='test'``: ``num_episodes`` episodes of the fold's novel classes, fixed by
    ``seed`` (:func:`~.episodes.sample_episodes`). ``mode='train'``
    (meta-training): one item per (base class, image) pair of the list; its supports are
    drawn afresh each time from NumPy's global generator, which MMEngine seeds per worker.

    Args:
        benchmark: ``'pascal5i'`` or ``'coco20i'``.
        data_root: the data set's folder.
        ann_file: list file (one image name per line), relative to ``data_root``.
        data_prefix: ``img_path`` and ``seg_map_path`` folders, relative to ``data_root``.
        fold: 0..3.
        shot: K, the support images per episode.
        mode: ``'train'`` (base classes) or ``'test'`` (novel classes).
        num_episodes: test episodes (the field's 1,000 per fold).
        seed: seed of the test episodes.
        min_pixels: an image counts for a class with at least this many pixels of it.
        coco_split: COCO-20i's fold convention, ``'interleaved'`` or ``'blocks'``.
        img_suffix: image file suffix.
        seg_map_suffix: mask file suffix.
        pipeline: the query's transforms.
        support_pipeline: the supports' transforms (default: ``pipeline``); they must
            load the mask before resizing, so that it matches the image.
        cache_index: keep the class index in ``<ann_file>.classes.json``.
        exclude_novel: in training, drop images that show any novel class. Off by
            default: their novel pixels are background, as in PFENet and HSNet.
    """

    def __init__(self, benchmark: str, data_root: str, ann_file: str,
                 data_prefix: Dict[str, str], fold: int = 0, shot: int = 1,
                 mode: str = 'test', num_episodes: int = 1000, seed: int = 0,
                 min_pixels: int = 1, coco_split: str = 'interleaved',
                 img_suffix: str = '.jpg', seg_map_suffix: str = '.png',
                 pipeline: Sequence[Union[dict, callable]] = (),
                 support_pipeline: Optional[Sequence[Union[dict, callable]]] = None,
                 cache_index: bool = True, exclude_novel: bool = False) -> None:
        if mode not in MODES:
            raise ValueError(f'mode={mode!r}; use one of {MODES}.')
        if not isinstance(shot, int) or shot < 1:
            raise ValueError(f'shot={shot!r}: use a positive integer (--cfg-options shot=K).')
        self.bench = get_benchmark(benchmark)
        self.fold, self.shot, self.mode = fold, shot, mode
        self.classes = (novel_classes if mode == 'test' else base_classes)(
            benchmark, fold, coco_split)
        self.img_dir = osp.join(data_root, data_prefix['img_path'])
        self.seg_dir = osp.join(data_root, data_prefix['seg_map_path'])
        self.img_suffix, self.seg_map_suffix = img_suffix, seg_map_suffix
        list_file = osp.join(data_root, ann_file)
        names = read_names(list_file)
        # every listed image, not only those of the fold's classes: found now, not hours
        # into a run when an episode first draws it
        check_listed_files(self.img_dir, names, img_suffix, 'image')
        index = cached_class_index(self.seg_dir, names, seg_map_suffix,
                                   list_file + '.classes.json' if cache_index else None)
        if mode == 'train' and exclude_novel:
            novel = set(novel_classes(benchmark, fold, coco_split))
            index = {n: counts for n, counts in index.items() if not novel & set(counts)}
        self.per_class = images_per_class(index, self.classes, min_pixels)
        check_enough_images(self.per_class, shot + 1,
                            f'{benchmark} fold {fold} {mode} ({list_file})', self.bench.classes)
        if mode == 'test':
            self.episodes = sample_episodes(self.per_class, shot, num_episodes, seed)
        else:
            self.pairs = query_pairs(self.per_class)
        self.pipeline = build_pipeline(pipeline)
        self.support_pipeline = (self.pipeline if support_pipeline is None
                                 else build_pipeline(support_pipeline))
        self.metainfo = dict(
            classes=('background', 'foreground'), palette=[[0, 0, 0], [255, 64, 64]],
            benchmark=benchmark, class_names=self.bench.classes, fold=fold, shot=shot,
            episode_classes=tuple(self.classes))

    def __len__(self) -> int:
        return len(self.episodes) if self.mode == 'test' else len(self.pairs)

    def episode(self, idx: int) -> Episode:
        """The episode of item ``idx`` (in training, with freshly drawn supports)."""
        if self.mode == 'test':
            return self.episodes[idx]
        cls, query = self.pairs[idx]
        return Episode(cls, query, draw_supports(np.random.default_rng(
            np.random.randint(2 ** 31)), self.per_class, cls, query, self.shot))

    def _load(self, name: str, cls: int, pipeline: Compose) -> dict:
        return pipeline(dict(
            img_path=osp.join(self.img_dir, name + self.img_suffix),
            seg_map_path=osp.join(self.seg_dir, name + self.seg_map_suffix),
            reduce_zero_label=False, seg_fields=[], episode_class=cls))

    def __getitem__(self, idx: int) -> dict:
        episode = self.episode(idx)
        query = self._load(episode.query, episode.cls, self.pipeline)
        supports = [self._load(n, episode.cls, self.support_pipeline)
                    for n in episode.supports]
        images = [query['inputs']] + [s['inputs'] for s in supports]
        if len({tuple(i.shape) for i in images}) > 1:
            raise ValueError(
                f'Episode {idx}: query and supports have different sizes '
                f'{[tuple(i.shape) for i in images]}; the pipelines must resize every '
                'image to one fixed size (Resize with keep_ratio=False).')
        sample = query['data_samples']
        sample.support_masks = PixelData(data=torch.cat(
            [s['data_samples'].gt_sem_seg.data for s in supports]))
        sample.set_metainfo(dict(episode_class=episode.cls,
                                 support_paths=[s['data_samples'].img_path for s in supports]))
        return dict(inputs=torch.stack(images), data_samples=sample)


def episode_names(dataset: FewShotSegDataset) -> List[tuple]:
    """Every test episode as a (class, query, supports) tuple, e.g. to compare two runs."""
    return [(e.cls, e.query, tuple(e.supports)) for e in dataset.episodes]
