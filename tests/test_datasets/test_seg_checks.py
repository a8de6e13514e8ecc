"""Bad data gets a message naming the file, before or instead of a crash in a worker."""
import numpy as np
import pytest
from PIL import Image

from mmseg_expres.datasets import (BadSampleError, CheckedLoadAnnotations,
                                   CheckedLoadImageFromFile, DatasetLayoutError,
                                   check_seg_layout)
from mmseg_expres.datasets.demo_data.segmentation import make_ade20k


def _ann_results(path: str) -> dict:
    return dict(seg_map_path=path, reduce_zero_label=True, seg_fields=[])


def test_corrupt_image_is_named(tmp_path):
    bad = tmp_path / 'broken.jpg'
    bad.write_bytes(b'this is not a jpeg')
    with pytest.raises(BadSampleError, match=r"Cannot decode image .*broken.jpg"):
        CheckedLoadImageFromFile()(dict(img_path=str(bad)))


def test_label_outside_class_range_is_named(tmp_path):
    path = tmp_path / 'labels.png'
    Image.fromarray(np.array([[1, 2], [200, 0]], np.uint8)).save(path)  # 200 -> 199
    with pytest.raises(BadSampleError, match=r'labels.png.*\[199\] outside \[0, 150\)'):
        CheckedLoadAnnotations(num_classes=150, reduce_zero_label=True)(_ann_results(str(path)))


def test_valid_labels_and_ignore_index_pass(tmp_path):
    path = tmp_path / 'labels.png'
    Image.fromarray(np.array([[1, 150], [0, 0]], np.uint8)).save(path)
    out = CheckedLoadAnnotations(num_classes=150, reduce_zero_label=True)(
        _ann_results(str(path)))
    assert out['gt_seg_map'].tolist() == [[0, 149], [255, 255]]


def test_corrupt_annotation_is_named(tmp_path):
    path = tmp_path / 'labels.png'
    path.write_bytes(b'\x89PNG broken')
    with pytest.raises(BadSampleError, match='Cannot decode annotation .*labels.png'):
        CheckedLoadAnnotations(num_classes=150, reduce_zero_label=True)(_ann_results(str(path)))


def test_inference_samples_without_annotation_pass():
    results = CheckedLoadAnnotations(num_classes=150)(dict(img_shape=(2, 2), seg_fields=[]))
    assert 'gt_seg_map' not in results


@pytest.fixture
def ade_cfg(tmp_path):
    root = make_ade20k(str(tmp_path), num_train=3, num_val=1, size=(16, 16))
    return dict(type='ADE20KDataset', data_root=root,
                data_prefix=dict(img_path='images/training',
                                 seg_map_path='annotations/training'))


def test_layout_check_passes_real_layout(ade_cfg):
    check_seg_layout(ade_cfg)


def test_layout_check_names_missing_folder(ade_cfg):
    ade_cfg['data_root'] += '_typo'
    with pytest.raises(DatasetLayoutError, match=r'does not exist.*expected layout'):
        check_seg_layout(ade_cfg)


def test_layout_check_names_unpaired_images(ade_cfg, tmp_path):
    import os
    os.remove(os.path.join(ade_cfg['data_root'], 'annotations', 'training',
                           'ADE_train_00000001.png'))
    with pytest.raises(DatasetLayoutError, match=r"1 of 3 images .*ADE_train_00000001.jpg"):
        check_seg_layout(ade_cfg)


def test_layout_check_names_wrong_suffix(ade_cfg):
    ade_cfg['img_suffix'] = '.png'
    with pytest.raises(DatasetLayoutError, match=r'No \*.png images'):
        check_seg_layout(ade_cfg)


def _sixteen_bit(path, values) -> str:
    """A 16-bit grey PNG (Pillow mode I;16) of ``values``."""
    Image.fromarray(np.asarray(values, np.uint16)).save(path)
    assert Image.open(path).mode == 'I;16'
    return str(path)


def test_sixteen_bit_label_above_255_is_refused_before_the_cast(tmp_path):
    path = _sixteen_bit(tmp_path / 'labels.png', [[1, 300], [2, 0]])  # uint8: 300 -> 44
    with pytest.raises(BadSampleError, match=r'labels.png.*\[300\] above 255.*as \[44\]'):
        CheckedLoadAnnotations(num_classes=150)(dict(
            seg_map_path=path, reduce_zero_label=False, seg_fields=[]))


@pytest.mark.parametrize('reduce_zero_label', [False, True])
def test_sixteen_bit_labels_within_8_bits_load_as_mmseg_loads_them(tmp_path, reduce_zero_label):
    from mmseg.datasets.transforms import LoadAnnotations
    path = _sixteen_bit(tmp_path / 'labels.png', [[1, 255], [2, 0]])
    results = dict(seg_map_path=path, reduce_zero_label=reduce_zero_label, seg_fields=[])
    ours = CheckedLoadAnnotations(num_classes=3)(dict(results, seg_fields=[]))['gt_seg_map']
    mmseg = LoadAnnotations()(dict(results, seg_fields=[]))['gt_seg_map']
    assert ours.dtype == mmseg.dtype == np.uint8 and np.array_equal(ours, mmseg)


def test_an_ignore_index_outside_8_bits_is_refused():
    with pytest.raises(ValueError, match='ignore_index=65535.*0..255'):
        CheckedLoadAnnotations(num_classes=3, ignore_index=65535)
