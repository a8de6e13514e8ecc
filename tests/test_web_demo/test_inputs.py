"""The page's inputs without a browser: painted references, uploaded masks, bad files,
pictures too large to decode."""
import json
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from mmseg_expres.web_demo import DemoInputError, FewShotDemo, inputs, runs
from mmseg_expres.web_demo.inputs import (MAX_PIXELS, check_file_count, check_uploaded_mask,
                                          editor_picture, painted_mask, read_image)

from ..test_tools.seg_runs import REPO, tool
from .browser import decoders_limited, stub_segment_demo, write_png_bomb  # noqa: F401


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
    Image.fromarray(np.zeros((6, 9, 3), np.uint8)).save(str(tmp_path / 'wide.png'))
    monkeypatch.setattr(inputs, 'MAX_SIDE', 8)
    with pytest.raises(DemoInputError, match='wide.png is 9x6 pixels; the page takes images '
                                             'up to 8 pixels a side'):
        read_image(str(tmp_path / 'wide.png'))


@pytest.mark.parametrize('side, size', [(20000, 'over 16,777,216'), (9000, '9000x9000')])
def test_a_decompression_bomb_is_refused_from_its_header(tmp_path, side, size):
    """PNGs of 50 kB and 10 kB for 20,000 and 9,000 pixels a side: refused with the limit
    and the fix, and nothing on the way decodes them (OpenCV would hand over 1.2 GB or
    243 MB of numpy memory, which tracemalloc counts). Pillow's default cap refuses the
    first at its header; the second is under that cap, and the page's check of the
    header's size refuses it."""
    bomb = write_png_bomb(str(tmp_path / 'bomb.png'), side)
    tracemalloc.start()
    try:
        with pytest.raises(DemoInputError, match=rf'bomb.png is {size} pixels; the page takes '
                                                 r'images up to 4096 pixels a side: make it '
                                                 r'smaller first \(resize it'):
            read_image(bomb)
        with pytest.raises(DemoInputError, match=rf'The mask of reference 1 \(bomb.png\) is '
                                                 rf'{size} pixels; the page takes'):
            check_uploaded_mask(bomb, (side, side), 'reference 1')
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f'{peak} bytes allocated to refuse a picture from its header'


@pytest.mark.parametrize('side, refusal', [  # over the cap (Pillow warns), over twice it
    (4097, Image.DecompressionBombWarning), (6000, Image.DecompressionBombError)])
def test_pillow_refuses_what_is_over_the_page_cap(tmp_path, decoders_limited, side, refusal):
    """In the page's process Pillow refuses from the header whatever is over
    MAX_PIXELS (what Gradio's image editor and the few-shot mask reader decode), and the
    page says so with its limit."""
    big = write_png_bomb(str(tmp_path / 'big.png'), side)
    with pytest.raises(refusal):
        Image.open(big)
    with pytest.raises(DemoInputError, match=f'big.png is over {MAX_PIXELS:,} pixels; the '
                                             'page takes images up to 4096 pixels a side'):
        read_image(big)
    assert Image.open(write_png_bomb(str(tmp_path / 'fits.png'), 4096)).size == (4096, 4096)


def test_opencv_is_capped_by_the_tool_before_it_loads(tmp_path):
    """tools/web_demo.py sets OpenCV's pixel cap (read once, when cv2 loads) to the page's
    MAX_PIXELS: cv2 then refuses the bomb instead of decoding 1.2 GB."""
    bomb = write_png_bomb(str(tmp_path / 'bomb.png'))
    script = ('import json, os, runpy, sys\n'
              f'runpy.run_path({tool("web_demo.py")!r}, run_name="web_demo")\n'
              'import cv2\n'
              'from mmseg_expres.web_demo.inputs import MAX_PIXELS, OPENCV_PIXELS_ENV\n'
              'try:\n'
              f'    refused = cv2.imread({bomb!r}) is None\n'
              'except cv2.error:  # OpenCV 4.14 raises on a size over its cap\n'
              '    refused = True\n'
              'print(json.dumps([os.environ[OPENCV_PIXELS_ENV], str(MAX_PIXELS), refused]))\n')
    env = {k: v for k, v in os.environ.items() if k != inputs.OPENCV_PIXELS_ENV}
    out = subprocess.run([sys.executable, '-c', script], cwd=REPO, env=env, check=True,
                         capture_output=True, text=True).stdout
    tool_cap, page_cap, refused = json.loads(out.splitlines()[-1])
    assert tool_cap == page_cap and refused


def test_a_request_with_too_many_files_is_refused_with_the_cap():
    assert check_file_count(['a.png'] * 8, 'images') == ['a.png'] * 8
    assert check_file_count(None, 'images') is None
    with pytest.raises(DemoInputError, match='9 query images were sent; the page takes up '
                                             'to 8 at a time: send them in groups of 8'):
        check_file_count(['a.png'] * 9, 'query images')


def test_segment_decodes_one_image_at_a_time_and_refuses_before_any(tmp_path, monkeypatch):
    """Each image is read just before its model call, and a file the page refuses stops
    the request before anything is decoded or run."""
    events = []
    read = runs.read_image
    monkeypatch.setattr(runs, 'read_image', lambda path: events.append(('read', path))
                        or read(path))
    demo = stub_segment_demo(monkeypatch, tmp_path, lambda image: events.append(
        ('model', image.shape)))
    paths = [str(tmp_path / f'{name}.png') for name in 'ab']
    for i, path in enumerate(paths):
        Image.fromarray(np.zeros((4 + i, 5, 3), np.uint8)).save(path)
    demo(paths)
    assert events == [('read', paths[0]), ('model', (4, 5, 3)),
                      ('read', paths[1]), ('model', (5, 5, 3))]

    events.clear()
    (tmp_path / 'notes.png').write_text('hello')
    with pytest.raises(DemoInputError, match='notes.png is not an image'):
        demo(paths + [str(tmp_path / 'notes.png')])
    assert events == []


def test_the_tool_names_missing_files_before_loading_anything(tmp_path):
    from ..test_tools.seg_runs import run_tool
    result = run_tool([tool('web_demo.py'), 'cfg.py', str(tmp_path / 'ckpt.pth')],
                      check=False)
    assert result.returncode != 0
    assert f'No such file: cfg.py, {tmp_path / "ckpt.pth"}' in result.stderr
    assert 'tools/run_demo.sh' in result.stderr


def test_auth_takes_a_login_or_a_file_of_logins(tmp_path, capsys, monkeypatch):
    import runpy
    monkeypatch.setattr(os, 'environ', os.environ.copy())  # what the tool sets stays here
    parse_args = runpy.run_path(tool('web_demo.py'), run_name='web_demo')['parse_args']
    assert parse_args(['c.py', 'k.pth']).auth is None
    assert parse_args(['c.py', 'k.pth']).queue_size == 16
    assert parse_args(['c.py', 'k.pth', '--auth', 'ann:a:b']).auth == [('ann', 'a:b')]
    logins = tmp_path / 'logins.txt'
    logins.write_text('# who may use the page\nann:pw1\n\nbob:pw2\n')
    assert parse_args(['c.py', 'k.pth', '--auth', str(logins)]).auth == [
        ('ann', 'pw1'), ('bob', 'pw2')]
    logins.write_text('ann:pw1\nbob-secret\n')
    for value, message in [(str(logins), f'line 2 of {logins} is not USER:PASSWORD'),
                           ('annpw', 'takes USER:PASSWORD or a file of such lines')]:
        with pytest.raises(SystemExit):
            parse_args(['c.py', 'k.pth', '--auth', value])
        err = capsys.readouterr().err
        assert message in err and 'bob-secret' not in err
