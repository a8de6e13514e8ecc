"""The support-mask reader: each format people hand over, read as meant or refused."""
import logging
import re

import numpy as np
import pytest
from PIL import Image

from mmseg_expres.apis.support_masks import (SupportMaskError, parse_color,
                                             read_support_mask)

# a 4x6 scene: object in the top-left 2x3 block
OBJECT = np.zeros((4, 6), bool)
OBJECT[:2, :3] = True
VOC_PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (3 * 253)
VOC_PALETTE[3 * 12:3 * 13] = [192, 128, 128]  # VOC's dog
VOC_PALETTE[3 * 255:] = [224, 224, 192]        # VOC's border (ignored)


def _save(tmp_path, name, array, mode=None, palette=None) -> str:
    image = Image.fromarray(array, mode) if mode else Image.fromarray(array)
    if palette is not None:
        image.putpalette(palette)
    path = str(tmp_path / name)
    image.save(path)
    return path


def _labels(fill: int, background: int = 0) -> np.ndarray:
    out = np.full(OBJECT.shape, background, np.uint8)
    out[OBJECT] = fill
    return out


def test_zero_one_png(tmp_path):
    path = _save(tmp_path, 'm.png', _labels(1))
    assert np.array_equal(read_support_mask(path), OBJECT.astype(np.uint8))


def test_white_on_black_drawing_marks_the_object_not_ignore(tmp_path):
    """0/255 with no class: 255 is the object (it used to be read as all ignored)."""
    path = _save(tmp_path, 'm.png', _labels(255))
    assert np.array_equal(read_support_mask(path), OBJECT.astype(np.uint8))


def test_label_map_with_class_id(tmp_path):
    labels = _labels(3)
    labels[3, :] = 7
    path = _save(tmp_path, 'm.png', labels)
    assert np.array_equal(read_support_mask(path, cls=3), OBJECT.astype(np.uint8))
    assert read_support_mask(path, cls=7).sum() == 6


def test_palette_png_is_read_as_indices_not_colours(tmp_path):
    """VOC's SegmentationClass files: PIL 'P' mode. mmcv/OpenCV decode them to BGR colours,
    whose channel 0 (blue = 128 for the dog) is no label at all."""
    import mmcv
    labels = _labels(12)
    labels[3, :] = 255
    path = _save(tmp_path, 'voc.png', labels, mode='P', palette=VOC_PALETTE)
    assert Image.open(path).mode == 'P'
    assert mmcv.imread(path, flag='unchanged')[0, 0].tolist() == [128, 128, 192]  # the trap
    assert np.array_equal(read_support_mask(path, cls=12), OBJECT.astype(np.uint8))
    # without a class: three values (0, 12, 255) are ambiguous, unless 255 is ignored
    with pytest.raises(SupportMaskError, match=r'3 value\(s\): 0, 12, 255'):
        read_support_mask(path)
    ignored = read_support_mask(path, ignore_index=255)
    assert np.array_equal(ignored[:3], OBJECT[:3].astype(np.uint8))
    assert (ignored[3] == 255).all()
    # asked for by colour, the palette colours are compared
    assert np.array_equal(read_support_mask(path, color=(192, 128, 128)),
                          OBJECT.astype(np.uint8))


def test_rgb_colour_mask_with_color_in_rgb_order(tmp_path):
    rgb = np.zeros(OBJECT.shape + (3,), np.uint8)
    rgb[OBJECT] = (255, 0, 0)  # red object
    rgb[3, :] = (0, 0, 255)    # a blue one: what a BGR reading would call red
    path = _save(tmp_path, 'colour.png', rgb)
    assert np.array_equal(read_support_mask(path, color=(255, 0, 0)), OBJECT.astype(np.uint8))
    assert read_support_mask(rgb, color=(0, 0, 255)).sum() == 6  # arrays are RGB too
    with pytest.raises(SupportMaskError, match=r'3 value\(s\).*--color R,G,B'):
        read_support_mask(path)


def test_two_colour_mask_and_grey_saved_as_rgb_need_no_class(tmp_path):
    green = np.zeros(OBJECT.shape + (3,), np.uint8)
    green[OBJECT] = (0, 200, 0)
    assert np.array_equal(read_support_mask(_save(tmp_path, 'g.png', green)),
                          OBJECT.astype(np.uint8))
    grey = np.repeat(_labels(255)[..., None], 3, axis=-1)
    assert np.array_equal(read_support_mask(_save(tmp_path, 'grey.png', grey)),
                          OBJECT.astype(np.uint8))


def test_rgba_sketch_drops_alpha(tmp_path):
    """A drawing layer (Gradio's sketch): transparent black, opaque strokes."""
    rgba = np.zeros(OBJECT.shape + (4,), np.uint8)
    rgba[OBJECT] = (255, 255, 255, 255)
    path = _save(tmp_path, 'sketch.png', rgba)
    assert np.array_equal(read_support_mask(path), OBJECT.astype(np.uint8))
    assert np.array_equal(read_support_mask(rgba), OBJECT.astype(np.uint8))


def test_one_bit_and_sixteen_bit_pngs(tmp_path):
    bits = _save(tmp_path, 'bits.png', OBJECT)  # a bool array: PIL mode '1'
    assert Image.open(bits).mode == '1'
    assert np.array_equal(read_support_mask(bits), OBJECT.astype(np.uint8))
    labels = _labels(3).astype(np.uint16) * 1000  # class 3000
    wide = _save(tmp_path, 'wide.png', labels)
    assert np.array_equal(read_support_mask(wide, cls=3000), OBJECT.astype(np.uint8))


def test_ignore_only_when_asked(tmp_path):
    labels = _labels(1)
    labels[3, :] = 255
    path = _save(tmp_path, 'm.png', labels)
    assert set(np.unique(read_support_mask(path, cls=1))) == {0, 1}
    assert (read_support_mask(path, cls=1, ignore_index=255)[3] == 255).all()


@pytest.mark.parametrize('labels, kwargs, match', [
    (_labels(0), {}, r'the support mask holds 1 value\(s\): 0'),
    (_labels(1), dict(cls=5), r'no pixel of class 5; it holds 2 value\(s\): 0, 1'),
    (np.arange(24, dtype=np.uint8).reshape(4, 6), {}, r'24 value\(s\).*--class-id'),
    (_labels(1), dict(cls=1, color=(1, 1, 1)), 'either'),
])
def test_bad_masks_are_refused_with_what_they_hold(labels, kwargs, match):
    with pytest.raises(SupportMaskError, match=match):
        read_support_mask(labels, **kwargs)


def test_jpeg_mask_is_refused_as_lossy(tmp_path):
    path = str(tmp_path / 'm.jpg')
    big = np.kron(_labels(255), np.ones((5, 5), np.uint8))  # edges inside DCT blocks
    Image.fromarray(big).save(path, quality=75)
    with pytest.raises(SupportMaskError, match='PNG, not JPEG'):
        read_support_mask(path)


def test_colour_absent_and_ignore_on_colour_mask():
    rgb = np.zeros(OBJECT.shape + (3,), np.uint8)
    rgb[OBJECT] = (255, 0, 0)
    with pytest.raises(SupportMaskError, match=r'no pixel of colour \(0, 255, 0\)'):
        read_support_mask(rgb, color=(0, 255, 0), name='support 2 (a.png)')
    with pytest.raises(SupportMaskError, match='label masks only'):
        read_support_mask(rgb, ignore_index=0)


def test_size_mismatch_refused_or_resized_with_a_warning(tmp_path, caplog):
    path = _save(tmp_path, 'm.png', _labels(1))
    with pytest.raises(SupportMaskError, match=r'support 1 \(m.png\) is 4x6 .* image is 8x12'):
        read_support_mask(path, (8, 12), name='support 1 (m.png)')
    with caplog.at_level(logging.WARNING):
        resized = read_support_mask(path, (8, 12), resize=True)
    assert 'resized' in caplog.text
    assert np.array_equal(resized, np.kron(_labels(1), np.ones((2, 2), np.uint8)))


def test_unreadable_and_missing_files(tmp_path):
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'not a png')
    with pytest.raises(SupportMaskError, match='Cannot read the mask'):
        read_support_mask(str(broken))
    with pytest.raises(SupportMaskError, match='No such mask file'):
        read_support_mask(str(tmp_path / 'none.png'))


def test_parse_color():
    assert parse_color('255,0,10') == (255, 0, 10)
    for bad in ('255,0', '1,2,300', 'red'):
        with pytest.raises(ValueError, match='R,G,B'):
            parse_color(bad)


def _old_values(array: np.ndarray, limit: int = 8) -> str:
    """The reader's message text before packed colour codes (np.unique over rows)."""
    flat = array.reshape(-1, array.shape[-1]) if array.ndim == 3 else array.reshape(-1)
    unique = np.unique(flat, axis=0)
    shown = [tuple(int(c) for c in u) if array.ndim == 3 else int(u) for u in unique[:limit]]
    more = f' and {len(unique) - limit} more' if len(unique) > limit else ''
    return f'{len(unique)} value(s): {", ".join(map(str, shown))}{more}'


def test_packed_colour_codes_read_as_rows_of_colours_did():
    from mmseg_expres.apis.support_masks import _values
    rng = np.random.default_rng(0)
    many = rng.integers(0, 4, (9, 7, 3), dtype=np.uint8) * 85  # 64 possible colours
    assert _values(many) == _old_values(many) and 'more' in _values(many)
    labels = rng.integers(0, 20, (9, 7)).astype(np.uint16) * 300
    assert _values(labels) == _old_values(labels)
    two = np.zeros((9, 7, 3), np.uint8)
    two[2:5, 1:4] = (0, 0, 1)  # the object differs from black in blue only
    assert np.array_equal(read_support_mask(two), (two != 0).any(axis=-1).astype(np.uint8))
    three = two.copy()
    three[0, 0] = (1, 0, 0)
    with pytest.raises(SupportMaskError, match=re.escape(_old_values(three))):
        read_support_mask(three)
