"""PASCAL-5i / COCO-20i fold splits against the conventions, written out by hand."""
import pytest

from mmseg_expres.datasets.fewshot_seg.splits import (COCO_CATEGORY_IDS, base_classes,
                                                      get_benchmark, novel_classes)


def test_pascal_folds_are_consecutive_blocks_of_five():
    assert novel_classes('pascal5i', 0) == [1, 2, 3, 4, 5]
    assert novel_classes('pascal5i', 3) == [16, 17, 18, 19, 20]
    assert base_classes('pascal5i', 1) == [1, 2, 3, 4, 5, *range(11, 21)]


def test_coco_interleaved_and_block_folds():
    assert novel_classes('coco20i', 1)[:3] == [2, 6, 10]
    assert novel_classes('coco20i', 1)[-1] == 78
    assert novel_classes('coco20i', 2, 'blocks') == list(range(41, 61))
    folds = [set(novel_classes('coco20i', f)) for f in range(4)]
    assert set().union(*folds) == set(range(1, 81)) and sum(map(len, folds)) == 80
    assert set(base_classes('coco20i', 0)) == set(range(1, 81)) - folds[0]


def test_coco_category_ids_are_cocos_80_sparse_ids():
    assert len(COCO_CATEGORY_IDS) == len(set(COCO_CATEGORY_IDS)) == 80
    assert COCO_CATEGORY_IDS[11] == 13 and COCO_CATEGORY_IDS[-1] == 90  # 12 is unused
    assert get_benchmark('coco20i').classes[COCO_CATEGORY_IDS.index(90)] == 'toothbrush'


@pytest.mark.parametrize('fold', [-1, 4, 1.0])
def test_fold_out_of_range_is_refused(fold):
    with pytest.raises(ValueError, match='out of range.*fold=N'):
        novel_classes('pascal5i', fold)


def test_unknown_benchmark_and_split_are_refused():
    with pytest.raises(KeyError, match='pascal5i'):
        novel_classes('voc', 0)
    with pytest.raises(ValueError, match='interleaved'):
        novel_classes('coco20i', 0, 'random')
