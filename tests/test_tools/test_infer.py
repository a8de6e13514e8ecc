"""tools/infer.py as a user runs it: images, a folder, a glob, a video, few-shot supports."""
import os.path as osp

import cv2
import numpy as np
import pytest
from PIL import Image

from .infer_models import (DEMO_FEWSHOT, DEMO_SEG, FEWSHOT_META, ade_meta,
                           write_demo_model)
from .seg_runs import run_tool, tool

SKY = 2  # ADE20K's sky: palette (6, 230, 230), far from its BGR swap (230, 230, 6)
RED = (255, 0, 0)
FRAMES, FPS, FRAME_SIZE = 20, 7.5, (48, 64)


def _write_video(path: str) -> None:
    """20 red frames (RGB 255, 0, 0) with a small white square moving across."""
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), FPS, FRAME_SIZE[::-1])
    for i in range(FRAMES):
        frame = np.zeros(FRAME_SIZE + (3,), np.uint8)
        frame[..., 2] = 255  # red, in OpenCV's BGR
        frame[2:8, 2 + 2 * i:8 + 2 * i] = 255
        writer.write(frame)
    writer.release()


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp('inputs')
    red = np.zeros((37, 53, 3), np.uint8)
    red[...] = RED
    Image.fromarray(red).save(root / 'red.png')
    folder = root / 'folder'
    (folder / 'sub').mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, size in (('a.jpg', (40, 60)), ('sub/b.png', (64, 48))):
        Image.fromarray(rng.integers(0, 256, size + (3,), dtype=np.uint8)).save(folder / name)
    (folder / 'broken.jpg').write_bytes(b'\xff\xd8 truncated')
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)).save(
            root / f'glob_{i}.png')
    _write_video(str(root / 'clip.mp4'))
    return root


@pytest.fixture(scope='module')
def ade_model(tmp_path_factory):
    return write_demo_model(tmp_path_factory.mktemp('ade'), DEMO_SEG, ade_meta(),
                            constant_class=SKY)


@pytest.fixture(scope='module')
def ade_run(tmp_path_factory, inputs, ade_model):
    out = tmp_path_factory.mktemp('out')
    result = run_tool([tool('infer.py'), *ade_model, str(inputs / 'red.png'),
                       str(inputs / 'folder'), str(inputs / 'glob_*.png'),
                       str(inputs / 'clip.mp4'), str(inputs / 'missing.jpg'),
                       '--out-dir', str(out), '--batch-size', '2', '--save-frames'],
                      check=False)
    return out, result


def test_every_image_gets_a_palette_png_and_an_overlay_of_its_size(ade_run):
    out, _ = ade_run
    palette = np.array(ade_meta()['palette'], np.uint8)
    for name, size in (('red', (37, 53)), ('folder/a', (40, 60)), ('folder/sub/b', (64, 48)),
                       ('glob_0', (30, 30)), ('glob_1', (30, 30))):
        pred = Image.open(out / f'{name}_pred.png')
        assert pred.mode == 'P' and pred.size == size[::-1], name
        assert (np.asarray(pred) == SKY).all(), name
        assert np.array_equal(np.array(pred.getpalette()[:3 * 150]).reshape(150, 3), palette)
        overlay = np.asarray(Image.open(out / f'{name}_overlay.png'))
        assert overlay.shape[0] >= size[0] and overlay.shape[1] == size[1] + 200, name
        # the legend's first swatch is sky's exact colour
        assert overlay[9, size[1] + 10].tolist() == palette[SKY].tolist(), name


def test_colours_are_rgb_end_to_end(ade_run):
    """Red input, sky (6, 230, 230) at opacity 0.5: a swapped palette or a BGR input would
    give (242, 115, 3) or (3, 115, 242) instead of (130, 115, 115)."""
    out, _ = ade_run
    overlay = np.asarray(Image.open(out / 'red_overlay.png'))
    expected = np.rint(0.5 * np.array(RED) + 0.5 * np.array([6, 230, 230]))
    assert (overlay[:37, :53] == expected).all()


def test_video_keeps_frame_count_rate_and_colours(ade_run):
    out, _ = ade_run
    video = cv2.VideoCapture(str(out / 'clip_overlay.mp4'))
    assert video.get(cv2.CAP_PROP_FPS) == pytest.approx(FPS)
    frames = []
    while True:
        ok, frame = video.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == FRAMES
    assert frames[0].shape[1] == FRAME_SIZE[1] + 200 and frames[0].shape[0] >= FRAME_SIZE[0]
    # away from the white square: red blended with sky, as BGR; MPEG-4 is lossy
    bgr = frames[10][30:44, 10:50].reshape(-1, 3).mean(axis=0)
    assert np.abs(bgr - [115, 115, 130]).max() < 12, bgr
    per_frame = sorted(p for p in (out / 'clip').iterdir() if p.name.endswith('_pred.png'))
    assert len(per_frame) == FRAMES
    assert (np.asarray(Image.open(per_frame[0])) == SKY).all()
    assert Image.open(per_frame[0]).size == FRAME_SIZE[::-1]


def test_unreadable_and_missing_inputs_are_named_and_the_rest_done(ade_run):
    out, result = ade_run
    assert result.returncode == 1
    assert 'Segmented 5 image(s) and 20 frame(s) of 1 video(s)' in result.stdout
    assert '2 input(s) failed' in result.stdout
    assert 'broken.jpg: Cannot decode' in result.stdout
    assert 'missing.jpg: no such file or folder' in result.stdout
    assert 'images/s' in result.stderr  # the progress line
    assert not osp.exists(out / 'folder' / 'broken_pred.png')


def run_in_process(name: str, argv: list, capsys) -> tuple:
    """A tool's ``main`` in this process (no start-up cost): (exit status, stdout, stderr)."""
    import runpy
    import sys
    old_argv = sys.argv
    sys.argv = [tool(name), *argv]
    try:
        runpy.run_path(tool(name), run_name='__main__')
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    finally:
        sys.argv = old_argv
    out = capsys.readouterr()
    return status, out.out, out.err


def test_full_exported_checkpoint_runs_without_the_vit_file(ade_model, inputs, tmp_path,
                                                              capsys):
    config, task = ade_model
    full = str(tmp_path / 'full.pth')
    assert run_in_process('export_full_checkpoint.py', [config, task, full], capsys)[0] == 0
    status, out, _ = run_in_process(
        'infer.py', [osp.splitext(full)[0] + '.py', full, str(inputs / 'glob_0.png'),
                     '--out-dir', str(tmp_path / 'out'), '--no-progress'], capsys)
    assert status == 0 and 'Segmented 1 image(s)' in out
    assert (np.asarray(Image.open(tmp_path / 'out' / 'glob_0_pred.png')) == SKY).all()


def test_fewshot_segmentor_from_a_drawn_support(tmp_path, inputs, capsys):
    config, checkpoint = write_demo_model(tmp_path / 'fss', DEMO_FEWSHOT, FEWSHOT_META,
                                          constant_class=1)
    drawn = np.zeros((37, 53), np.uint8)
    drawn[10:30, 10:40] = 255  # white on black
    Image.fromarray(drawn).save(tmp_path / 'mask.png')
    Image.fromarray(np.zeros((37, 53), np.uint8)).save(tmp_path / 'empty.png')
    out = tmp_path / 'out'
    args = [config, checkpoint, str(inputs / 'glob_*.png'), '--out-dir', str(out),
            '--class-name', 'thing', '--opacity', '1', '--batch-size', '2', '--no-progress']
    status, stdout, _ = run_in_process(
        'infer.py', args + ['--support', str(inputs / 'red.png'), str(tmp_path / 'mask.png')],
        capsys)
    assert status == 0 and 'Segmented 2 image(s)' in stdout
    pred = Image.open(out / 'glob_0_pred.png')
    assert pred.size == (30, 30) and (np.asarray(pred) == 1).all()
    overlay = np.asarray(Image.open(out / 'glob_0_overlay.png'))
    assert (overlay[:30, :30] == [255, 64, 64]).all()
    # a support mask without the object is refused before any input is segmented
    status, _, _ = run_in_process(
        'infer.py', args + ['--support', str(inputs / 'red.png'), str(tmp_path / 'empty.png')],
        capsys)
    assert 'support 1' in str(status) and 'empty.png' in str(status)
    # and a few-shot segmentor without supports is told what it needs
    status, _, _ = run_in_process('infer.py', args, capsys)
    assert '--support IMAGE MASK' in str(status)


def test_nothing_to_segment_stops_before_loading_a_model(tmp_path, capsys):
    (tmp_path / 'no.py').write_text('this config would not even parse')
    (tmp_path / 'no.pth').write_bytes(b'')
    status, _, _ = run_in_process('infer.py', [
        str(tmp_path / 'no.py'), str(tmp_path / 'no.pth'), str(tmp_path / 'none_*.jpg'),
        '--out-dir', str(tmp_path)], capsys)
    assert 'nothing to segment' in str(status) and 'none_*.jpg: no such file' in str(status)


def test_argument_errors_are_answered_by_the_parser(tmp_path, capsys):
    status, _, err = run_in_process('infer.py', ['no.py', 'no.pth', 'x.jpg', '--out-dir',
                                                 str(tmp_path)], capsys)
    assert status == 2 and 'error: no config file no.py' in err
    status, _, err = run_in_process('infer.py', ['no.py', 'no.pth', 'x.jpg', '--out-dir',
                                                 str(tmp_path), '--opacity', '2'], capsys)
    assert status == 2 and '--opacity within [0, 1]' in err


def _palette(sky):
    """ADE20K's 150 classes in grey levels, sky in ``sky``."""
    colours = [(i, i, i) for i in range(150)]
    colours[SKY] = sky
    return colours


def test_palette_given_at_inference_draws_and_a_same_size_overlay(ade_model, inputs, tmp_path,
                                                                  capsys):
    magenta = (255, 0, 255)
    palette = tmp_path / 'palette.txt'
    palette.write_text(' '.join(','.join(map(str, c)) for c in _palette(magenta)))
    common = [*ade_model, str(inputs / 'red.png'), str(inputs / 'clip.mp4'), '--opacity',
              '1', '--no-progress', '--no-legend']
    status, out, err = run_in_process(
        'infer.py', common + ['--out-dir', str(tmp_path / 'a'), '--palette',
                              palette.read_text()], capsys)
    assert status == 0, out + err
    overlay = np.asarray(Image.open(tmp_path / 'a' / 'red_overlay.png'))
    assert overlay.shape == (37, 53, 3) and (overlay == magenta).all()
    pred = Image.open(tmp_path / 'a' / 'red_pred.png')
    assert pred.getpalette()[3 * SKY:3 * SKY + 3] == list(magenta)
    video = cv2.VideoCapture(str(tmp_path / 'a' / 'clip_overlay.mp4'))
    ok, frame = video.read()
    assert ok and frame.shape[:2] == FRAME_SIZE  # the frames' size: no legend panel
    assert np.abs(frame[20:40, 20:40].astype(int) - magenta[::-1]).max() < 40  # BGR
    # --cfg-options palette=... is the same drawing choice
    status, out, err = run_in_process(
        'infer.py', common + ['--out-dir', str(tmp_path / 'b'), '--cfg-options',
                              f'palette={_palette(magenta)}'.replace(' ', '')], capsys)
    assert status == 0, out + err
    assert np.array_equal(np.asarray(Image.open(tmp_path / 'b' / 'red_overlay.png')), overlay)


def test_a_palette_that_does_not_fit_the_classes_is_refused(ade_model, inputs, tmp_path,
                                                            capsys):
    common = [*ade_model, str(inputs / 'red.png'), '--out-dir', str(tmp_path), '--no-progress']
    status, _, _ = run_in_process('infer.py', common + ['--palette', '255,0,0 0,0,255'], capsys)
    assert "has 2 colour(s) for the model's 150 classes" in str(status)
    assert "give one colour per class" in str(status)
    status, _, _ = run_in_process('infer.py', common + ['--palette', 'mine.txt'], capsys)
    assert "palette 'mine.txt': no such file" in str(status)
    status, _, _ = run_in_process('infer.py', common + ['--palette', '1,2,3', '--cfg-options',
                                                        'palette=[[1,2,3]]'], capsys)
    assert 'give the colours once' in str(status)
    assert not list(tmp_path.glob('*.png'))
