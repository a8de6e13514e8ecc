"""Phone photos (a JPEG stored sideways with an EXIF Orientation tag): images are read as
shown, masks as stored, everywhere (mmseg_expres/datasets/segmentation/orientation.py).

Each photo has a bright band that its mask labels 1, so a mask turned against its photo
shows as labels off the band.
"""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageOps

from mmseg_expres.apis.support_masks import SupportMaskError, read_support_mask
from mmseg_expres.datasets import CheckedLoadAnnotations, CheckedLoadImageFromFile
from mmseg_expres.datasets.segmentation.label_check import SplitSpec, check_split

ORIENTATION_TAG = 0x0112  # EXIF Orientation


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('MMSEG_EXPRES_CACHE', str(tmp_path / 'cache'))


def _photo(path, stored_hw, orientation: int) -> np.ndarray:
    """A JPEG with a bright band (top rows of the stored pixels) and an EXIF orientation;
    returns the photo as shown, as a 0/1 band mask."""
    h, w = stored_hw
    pixels = np.full((h, w, 3), 20, np.uint8)
    pixels[:h // 3] = 235
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[ORIENTATION_TAG] = orientation
    image.save(path, exif=exif, quality=95)
    assert Image.open(path).getexif()[ORIENTATION_TAG] == orientation
    shown = np.asarray(ImageOps.exif_transpose(Image.open(path)))[..., 0]
    return (shown > 128).astype(np.uint8)


def _data_set(root, stored_hw, orientation, drawn_on='shown'):
    """One training pair: the photo and a mask drawn on it as shown (or as stored)."""
    os.makedirs(root / 'img')
    os.makedirs(root / 'ann')
    band = _photo(str(root / 'img' / 'a.jpg'), stored_hw, orientation)
    if drawn_on == 'stored':
        h, w = stored_hw
        band = np.zeros((h, w), np.uint8)
        band[:h // 3] = 1
    Image.fromarray(band).save(root / 'ann' / 'a.png')
    return SplitSpec('train', str(root / 'img'), str(root / 'ann'), num_classes=2)


def _load_pair(spec):
    """Image and labels as the training pipeline reads them."""
    results = dict(img_path=os.path.join(spec.img_dir, 'a.jpg'),
                   seg_map_path=os.path.join(spec.seg_dir, 'a.png'),
                   reduce_zero_label=False, seg_fields=[])
    results = CheckedLoadImageFromFile()(results)
    return CheckedLoadAnnotations(num_classes=2)(results)


def _kinds(spec, decode_images=False):
    report = check_split(spec, nproc=1, decode_images=decode_images, progress=False)
    return {kind: message for kind, _, message in report.problems}


def _run_fix(message: str) -> None:
    """Run the `python -c ...` command that a message gives as the fix."""
    command = message[message.index('python -c'):].split(' ; ')[0]
    subprocess.run(command.replace('python', sys.executable, 1), shell=True, check=True)


def test_mask_drawn_on_the_shown_photo_passes_and_trains_aligned(tmp_path):
    spec = _data_set(tmp_path, (24, 40), orientation=6)
    assert _kinds(spec) == {}  # today's check compared the stored 40x24 and refused it
    out = _load_pair(spec)
    img, labels = out['img'], out['gt_seg_map']
    assert img.shape[:2] == labels.shape == (40, 24)
    assert np.array_equal(labels, (img[..., 0] > 128).astype(np.uint8))


def test_mask_drawn_on_the_stored_pixels_is_reported_with_the_command_that_turns_it(tmp_path):
    spec = _data_set(tmp_path, (24, 40), orientation=6, drawn_on='stored')
    kinds = _kinds(spec)
    assert set(kinds) == {'EXIF-rotated image'}  # today: no problem, a crash in training
    assert 'EXIF orientation 6' in kinds['EXIF-rotated image']
    assert 'drawn on the unturned pixels' in kinds['EXIF-rotated image']
    _run_fix(kinds['EXIF-rotated image'])
    assert _kinds(spec) == {}
    out = _load_pair(spec)
    assert np.array_equal(out['gt_seg_map'], (out['img'][..., 0] > 128).astype(np.uint8))


@pytest.mark.parametrize('stored_hw, orientation', [((32, 32), 6), ((24, 40), 3)])
def test_a_pair_the_sizes_cannot_tell_is_reported_and_baking_fixes_it(
        tmp_path, stored_hw, orientation):
    """A square photo turned 90 degrees, or any photo turned 180: the mask fits both ways."""
    spec = _data_set(tmp_path, stored_hw, orientation)
    kinds = _kinds(spec)
    assert set(kinds) == {'EXIF-rotated image'}  # today: passed silently
    assert 'sizes cannot tell' in kinds['EXIF-rotated image']
    before = _load_pair(spec)
    _run_fix(kinds['EXIF-rotated image'])  # bake the orientation into the photo
    assert _kinds(spec, decode_images=True) == {}
    baked = Image.open(os.path.join(spec.img_dir, 'a.jpg'))
    assert ORIENTATION_TAG not in baked.getexif()
    after = _load_pair(spec)
    assert np.abs(after['img'].astype(int) - before['img']).max() <= 8  # JPEG re-encoding
    assert np.array_equal(after['gt_seg_map'], (after['img'][..., 0] > 128).astype(np.uint8))


def test_a_non_square_mask_of_neither_size_is_a_size_mismatch_as_shown(tmp_path):
    spec = _data_set(tmp_path, (24, 40), orientation=6)
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(os.path.join(spec.seg_dir, 'a.png'))
    kinds = _kinds(spec)
    assert set(kinds) == {'size mismatch'}
    assert 'is 24x40 as shown (EXIF orientation 6; stored 40x24)' in kinds['size mismatch']


def test_loader_settings_that_ignore_the_orientation_are_refused():
    for kwargs in (dict(color_type='color_ignore_orientation'),
                   dict(color_type='unchanged'), dict(imdecode_backend='turbojpeg')):
        with pytest.raises(ValueError, match='ignoring their EXIF orientation'):
            CheckedLoadImageFromFile(**kwargs)
    CheckedLoadImageFromFile(imdecode_backend='pillow')


def test_support_mask_of_a_phone_photo_follows_the_same_rule(tmp_path):
    band = _photo(str(tmp_path / 's.jpg'), (24, 40), orientation=6)
    shown = str(tmp_path / 'shown.png')
    Image.fromarray(band).save(shown)
    stored = str(tmp_path / 'stored.png')
    Image.fromarray(np.ascontiguousarray(np.rot90(band))).save(stored)  # the stored pixels
    assert np.array_equal(read_support_mask(shown, band.shape, image_path=str(tmp_path / 's.jpg')),
                          band)
    with pytest.raises(SupportMaskError, match=r'support 1: .*drawn on the unturned pixels'):
        read_support_mask(stored, band.shape, image_path=str(tmp_path / 's.jpg'),
                          name='support 1', resize=True)


def test_an_orientation_tag_on_a_mask_turns_nothing(tmp_path):
    """A mask is label data, read as stored."""
    labels = np.zeros((4, 6), np.uint8)
    labels[0] = 1
    mask = Image.fromarray(labels)
    exif = mask.getexif()
    exif[ORIENTATION_TAG] = 6
    mask.save(tmp_path / 'm.png', exif=exif)
    out = CheckedLoadAnnotations(num_classes=2)(dict(
        seg_map_path=str(tmp_path / 'm.png'), reduce_zero_label=False, seg_fields=[]))
    assert np.array_equal(out['gt_seg_map'], labels)


def test_few_shot_inference_applies_the_rule_to_support_files(tmp_path):
    """prepare_supports (tools/infer.py --support, segment.py, the API) passes the support
    photo to the mask reader: a mask of the stored pixels is refused even with
    resize_masks, which would otherwise stretch it over the turned photo."""
    from mmseg_expres.apis import init_model
    from mmseg_expres.apis.fewshot_seg import prepare_supports

    from ..test_tools.infer_models import DEMO_FEWSHOT, FEWSHOT_META, write_demo_model
    model = init_model(*write_demo_model(tmp_path / 'model', DEMO_FEWSHOT, FEWSHOT_META))
    band = _photo(str(tmp_path / 's.jpg'), (24, 40), orientation=6)
    stored = str(tmp_path / 'stored.png')
    Image.fromarray(np.ascontiguousarray(np.rot90(band))).save(stored)
    with pytest.raises(SupportMaskError, match='drawn on the unturned pixels'):
        prepare_supports(model, [str(tmp_path / 's.jpg')], [stored], resize_masks=True)
    shown = str(tmp_path / 'shown.png')
    Image.fromarray(band).save(shown)
    prepare_supports(model, [str(tmp_path / 's.jpg')], [shown])
