"""The few-shot metrics against hand-computed values."""
import numpy as np
import pytest
import torch

from mmseg_expres.evaluation import FewShotSegMetric, episode_areas, fewshot_scores
from mmseg_expres.evaluation.fewshot_seg_table import fold_table, read_test_metrics

PRED = np.array([[1, 1, 0], [0, 1, 0]])
GT = np.array([[1, 0, 0], [255, 1, 1]])


def test_episode_areas_by_hand():
    # valid: 5 pixels. fg: pred {(0,0),(0,1),(1,1)}, gt {(0,0),(1,1),(1,2)}: I 2, U 4.
    # bg: pred {(0,2),(1,2)}, gt {(0,1),(0,2)}: I 1, U 3.
    assert episode_areas(PRED, GT, 7) == (7, 2, 4, 1, 3)


def test_class_iou_sums_over_episodes_before_dividing():
    areas = [(1, 2, 4, 1, 3), (1, 0, 6, 4, 4), (2, 3, 3, 5, 5)]
    scores = fewshot_scores(areas)
    # class 1: 2/10 (not the mean of 2/4 and 0/6); class 2: 3/3
    assert scores['class_iou'] == pytest.approx({1: 20.0, 2: 100.0})
    assert scores['mIoU'] == pytest.approx(60.0)
    # fg: 5/13, bg: 10/12
    assert scores['fb_iou'] == pytest.approx(100 * (5 / 13 + 10 / 12) / 2)


def test_metric_reads_data_samples():
    metric = FewShotSegMetric()
    metric.dataset_meta = dict(class_names=('a', 'b'), episode_classes=(1, 2))
    sample = dict(pred_sem_seg=dict(data=torch.tensor(PRED)[None]),
                  gt_sem_seg=dict(data=torch.tensor(GT)[None]), episode_class=2)
    metric.process({}, [sample, sample])
    result = metric.compute_metrics(metric.results)
    assert result == {'mIoU': 50.0, 'FB-IoU': round(100 * (0.5 + 1 / 3) / 2, 2), 'episodes': 2.0}


def test_table_gives_fold_means_only_when_every_fold_is_there():
    runs = {'fold0/shot1': {'mIoU': 50.0, 'FB-IoU': 70.0},
            'fold1/shot1': {'mIoU': 61.0, 'FB-IoU': 72.0},
            'fold0/shot5': {'mIoU': 55.0, 'FB-IoU': 71.0}}
    lines = fold_table(runs, [0, 1], [1, 5]).splitlines()
    assert lines[2] == '| 1-shot | 50.0 | 61.0 | 55.5 | 71.0 |'
    assert lines[3] == '| 5-shot | 55.0 | - |  |  |'


def test_test_metrics_are_read_from_mmengines_json_log(tmp_path):
    for stamp, miou in (('20260101_000000', 10.0), ('20260102_000000', 20.0)):
        (tmp_path / stamp).mkdir()
        (tmp_path / stamp / f'{stamp}.json').write_text(
            f'{{"mIoU": {miou}, "FB-IoU": 50.0, "episodes": 1000.0, "time": 0.1}}')
    assert read_test_metrics(str(tmp_path)) == {'mIoU': 20.0, 'FB-IoU': 50.0,
                                                'episodes': 1000.0}
    assert read_test_metrics(str(tmp_path / 'none')) is None
