"""The page's inputs without a browser: painted references, uploaded masks, bad files."""
import numpy as np
import pytest
from PIL import Image

from mmseg_expres.web_demo import DemoInputError, FewShotDemo
from mmseg_expres.web_demo.inputs import (check_uploaded_mask, editor_picture, painted_mask,
                                          read_image)


def editor(paint=None):
    """An image editor value as Gradio hands it over (RGBA arrays)."""
    background = np.zeros((4, 5, 4), np.uint8)
    background[..., 0], background[..., 3] = 200, 255  # red, opaque
    layer = np.zeros((4, 5, 4), np.uint8)
    if paint is not None:
        layer[paint] = (255, 48, 48, 255)
    return dict(background=background, layers=[layer], composite=background)


def test_painted_pixels_become_a_0_1_mask_and_the_picture_bgr():
    value = editor(paint=(slice(1, 3), slice(2, 4)))
    mask = painted_mask(value, 'reference 1')
    assert mask.dtype == np.uint8 and mask.tolist() == [
        [0, 0, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 0]]
    assert editor_picture(value)[0, 0].tolist() == [0, 0, 200]
    assert editor_picture(None) is None and editor_picture(dict(background=None)) is None


def test_nothing_painted_is_refused_with_the_fix():
    with pytest.raises(DemoInputError, match='Nothing is painted on reference 2: paint'):
        painted_mask(editor(), 'reference 2')
    with pytest.raises(DemoInputError, match='has a mask but no picture'):
        FewShotDemo.references([None], ['mask.png'])
    with pytest.raises(DemoInputError, match='Upload a reference picture'):
        FewShotDemo.references([None, dict(background=None)], [None, None])


def test_uploaded_masks_are_checked_and_passed_on_as_paths(tmp_path):
    mask = np.zeros((4, 5), np.uint8)
    mask[1:3, 1:3] = 255
    good = str(tmp_path / 'good.png')
    Image.fromarray(mask).save(good)
    refs = FewShotDemo.references([editor()], [good])  # the upload replaces the painting
    assert refs[0][1] == good and refs[0][0].shape == (4, 5, 3)
    Image.fromarray(np.zeros((4, 5), np.uint8)).save(str(tmp_path / 'empty.png'))
    with pytest.raises(DemoInputError, match='one value everywhere'):
        check_uploaded_mask(str(tmp_path / 'empty.png'), (4, 5), 'reference 1')
    Image.fromarray(mask[:, :4]).save(str(tmp_path / 'small.png'))
    with pytest.raises(DemoInputError, match='is 4x4 pixels but its image is 5x4'):
        check_uploaded_mask(str(tmp_path / 'small.png'), (4, 5), 'reference 1')
    (tmp_path / 'notes.png').write_text('hello')
    with pytest.raises(DemoInputError, match=r'reference 1 \(notes.png\) is not an image'):
        check_uploaded_mask(str(tmp_path / 'notes.png'), (4, 5), 'reference 1')


@pytest.mark.parametrize('content', [b'', b'GIF89a broken', b'\x89PNG\r\n\x1a\n'])
def test_files_that_are_not_images_are_refused(tmp_path, content):
    path = tmp_path / 'upload.jpg'
    path.write_bytes(content)
    with pytest.raises(DemoInputError, match='upload.jpg is not an image this page can'):
        read_image(str(path))


def test_images_are_read_as_the_model_reads_them(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (6, 7, 3)).astype(np.uint8)
    Image.fromarray(rgb).save(str(tmp_path / 'a.png'))
    np.testing.assert_array_equal(read_image(str(tmp_path / 'a.png')), rgb[..., ::-1])


def test_images_over_the_size_limit_are_refused(tmp_path, monkeypatch):
    from mmseg_expres.web_demo import inputs
    Image.fromarray(np.zeros((6, 9, 3), np.uint8)).save(str(tmp_path / 'wide.png'))
    monkeypatch.setattr(inputs, 'MAX_SIDE', 8)
    with pytest.raises(DemoInputError, match='wide.png is 9x6 pixels; the page takes images '
                                             'up to 8 pixels a side'):
        read_image(str(tmp_path / 'wide.png'))


def test_the_tool_names_missing_files_before_loading_anything(tmp_path):
    from ..test_tools.seg_runs import run_tool, tool
    result = run_tool([tool('web_demo.py'), 'cfg.py', str(tmp_path / 'ckpt.pth')],
                      check=False)
    assert result.returncode != 0
    assert f'No such file: cfg.py, {tmp_path / "ckpt.pth"}' in result.stderr
    assert 'tools/run_demo.sh' in result.stderr
