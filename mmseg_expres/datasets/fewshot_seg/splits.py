"""The class splits of the few-shot segmentation benchmarks PASCAL-5i and COCO-20i.

Class ids are the label values of the semantic masks: 0 is background, 1..C the classes
(PASCAL VOC's 20 in VOC order; COCO's 80 in category-id order), 255 is ignored. Each
benchmark has 4 folds; a fold's novel classes are tested, the others are its base
(meta-training) classes.
"""
from typing import Dict, List, NamedTuple, Tuple


class SegBenchmark(NamedTuple):
    """One few-shot segmentation benchmark: its class names (ids 1..C) and fold count."""
    name: str
    classes: Tuple[str, ...]
    num_folds: int = 4

    @property
    def num_classes(self) -> int:
        return len(self.classes)


VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
               'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person',
               'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')
COCO_CLASSES = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat',
    'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack',
    'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball',
    'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket',
    'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple',
    'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair',
    'couch', 'potted plant', 'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse',
    'remote', 'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink',
    'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier',
    'toothbrush')
#: COCO's category ids (1..90 with gaps) in order; label value i+1 is ``COCO_CATEGORY_IDS[i]``.
COCO_CATEGORY_IDS = (
    *range(1, 12), *range(13, 26), 27, 28, *range(31, 45), *range(46, 66), 67, 70,
    *range(72, 83), *range(84, 91))

BENCHMARKS: Dict[str, SegBenchmark] = {
    'pascal5i': SegBenchmark('pascal5i', VOC_CLASSES),
    'coco20i': SegBenchmark('coco20i', COCO_CLASSES),
}
#: COCO-20i fold conventions. 'interleaved' (fold i: 4k+i+1) is PFENet's
#: ``use_split_coco`` and HSNet's; 'blocks' (fold i: 20i+1..20i+20) is the earlier one.
COCO_SPLITS = ('interleaved', 'blocks')


def get_benchmark(name: str) -> SegBenchmark:
    """The benchmark called ``name``.

    Raises:
        KeyError: unknown benchmark, with the known ones.
    """
    if name not in BENCHMARKS:
        raise KeyError(f'Unknown few-shot segmentation benchmark {name!r}; use one of '
                       f'{sorted(BENCHMARKS)}.')
    return BENCHMARKS[name]


def novel_classes(benchmark: str, fold: int, coco_split: str = 'interleaved') -> List[int]:
    """The label values of fold ``fold``'s novel (test) classes.

    PASCAL-5i: 5i+1..5i+5. COCO-20i: 4k+i+1 (k = 0..19) with ``coco_split='interleaved'``,
    20i+1..20i+20 with ``'blocks'``.

    Raises:
        ValueError: fold out of range, or unknown ``coco_split``.
    """
    bench = get_benchmark(benchmark)
    if not isinstance(fold, int) or not 0 <= fold < bench.num_folds:
        raise ValueError(f'fold={fold!r} is out of range for {benchmark}: use 0..'
                         f'{bench.num_folds - 1} (--cfg-options fold=N).')
    per_fold = bench.num_classes // bench.num_folds
    if benchmark == 'coco20i':
        if coco_split not in COCO_SPLITS:
            raise ValueError(f'coco_split={coco_split!r}; use one of {COCO_SPLITS}.')
        if coco_split == 'interleaved':
            return [bench.num_folds * k + fold + 1 for k in range(per_fold)]
    return list(range(per_fold * fold + 1, per_fold * (fold + 1) + 1))


def base_classes(benchmark: str, fold: int, coco_split: str = 'interleaved') -> List[int]:
    """The label values of fold ``fold``'s base (meta-training) classes."""
    novel = set(novel_classes(benchmark, fold, coco_split))
    return [c for c in range(1, get_benchmark(benchmark).num_classes + 1) if c not in novel]
