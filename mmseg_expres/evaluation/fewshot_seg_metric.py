"""The few-shot segmentation metrics: per-class foreground IoU over episodes, and FB-IoU.

As the field computes them (HSNet's ``AverageMeter``, PFENet's test loop): for each
novel class, intersections and unions are summed over all of its episodes before the
division; the fold's mIoU is the mean of these class IoUs. FB-IoU is the mean of the
foreground IoU and the background IoU, each with intersections and unions summed over
all episodes. Pixels labelled 255 are ignored.
"""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmseg.registry import METRICS

IGNORE = 255
#: (class, foreground intersection, foreground union, background intersection, background union)
Areas = Tuple[int, int, int, int, int]


def episode_areas(pred: np.ndarray, gt: np.ndarray, cls: int) -> Areas:
    """Intersection and union of foreground (1) and background (0) of one episode.

    Args:
        pred: (H, W) binary prediction.
        gt: (H, W) binary mask, 255 where ignored.
        cls: the episode's class.
    """
    valid = gt != IGNORE
    pred_fg, gt_fg = (pred == 1) & valid, (gt == 1) & valid
    pred_bg, gt_bg = (pred != 1) & valid, (gt == 0) & valid
    return (cls, int((pred_fg & gt_fg).sum()), int((pred_fg | gt_fg).sum()),
            int((pred_bg & gt_bg).sum()), int((pred_bg | gt_bg).sum()))


def fewshot_scores(areas: Sequence[Areas]) -> Dict[str, object]:
    """mIoU, FB-IoU (in %) and the IoU of each class, from the episodes' areas.

    A class whose summed union is 0 (never predicted, never present) scores 0, as in HSNet.
    """
    sums: Dict[int, np.ndarray] = defaultdict(lambda: np.zeros(4, np.int64))
    for cls, *values in areas:
        sums[cls] += values
    class_iou = {c: s[0] / max(s[1], 1) for c, s in sorted(sums.items())}
    total = np.sum(list(sums.values()), axis=0)
    fb_iou = (total[0] / max(total[1], 1) + total[2] / max(total[3], 1)) / 2
    return dict(mIoU=100 * float(np.mean(list(class_iou.values()))),
                fb_iou=100 * float(fb_iou),
                class_iou={c: 100 * float(v) for c, v in class_iou.items()})


@METRICS.register_module()
class FewShotSegMetric(BaseMetric):
    """mIoU over a fold's novel classes and FB-IoU, from episodes' binary predictions.

    Reads ``pred_sem_seg``, ``gt_sem_seg`` and the ``episode_class`` metainfo of each
    data sample. Logs the per-class IoUs; returns ``mIoU``, ``FB-IoU`` and ``episodes``.
    """

    default_prefix: Optional[str] = None

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'].squeeze(0).cpu().numpy()
            gt = sample['gt_sem_seg']['data'].squeeze(0).cpu().numpy()
            self.results.append(episode_areas(pred, gt, int(sample['episode_class'])))

    def compute_metrics(self, results: List[Areas]) -> Dict[str, float]:
        scores = fewshot_scores(results)
        names = (self.dataset_meta or {}).get('class_names')
        expected = (self.dataset_meta or {}).get('episode_classes', ())
        missing = sorted(set(expected) - set(scores['class_iou']))
        if missing:  # averaging over fewer classes would inflate the fold's mIoU
            print_log(f'No episode of class(es) {missing}; mIoU averages the others. '
                      'Use more episodes.', logger='current', level=30)
        rows = [f'{c} {names[c - 1] if names else ""}: {iou:.2f}'
                for c, iou in scores['class_iou'].items()]
        print_log('Few-shot IoU per class: ' + '; '.join(rows), logger='current')
        return {'mIoU': round(scores['mIoU'], 2), 'FB-IoU': round(scores['fb_iou'], 2),
                'episodes': float(len(results))}  # MMEngine's JSON log drops ints
