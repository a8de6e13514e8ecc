"""The page's handlers and launch without a browser: what a click leaves behind, what an
error shows, the limits the server is started with."""
import logging
import os

import numpy as np
import pytest
from PIL import Image

from .browser import decoders_limited, stub_segment_demo, write_png_bomb  # noqa: F401

gr = pytest.importorskip('gradio', reason='the page needs Gradio: pip install -e ".[demo]"')

from mmseg_expres.web_demo import page as page_module  # noqa: E402 (needs Gradio)
from mmseg_expres.web_demo.page import build_page, serve  # noqa: E402


@pytest.fixture
def gradio_cache(tmp_path, monkeypatch):
    """Gradio's cache of this test's pages in ``tmp_path/gradio``."""
    monkeypatch.setenv('GRADIO_TEMP_DIR', str(tmp_path / 'gradio'))
    return tmp_path / 'gradio'


def click_handler(page: gr.Blocks, button: str):
    """What the page runs when the button with ``elem_id`` ``button`` is clicked."""
    ids = [i for i, block in page.blocks.items() if getattr(block, 'elem_id', None) == button]
    fns = [fn.fn for fn in page.fns.values() if any(t[0] in ids for t in fn.targets)]
    assert len(fns) == 1, (button, fns)
    return fns[0]


def images(tmp_path, count: int) -> list:
    paths = []
    for i in range(count):
        paths.append(str(tmp_path / f'picture{i}.png'))
        Image.fromarray(np.full((6, 8, 3), 20 * i, np.uint8)).save(paths[-1])
    return paths


def test_a_click_leaves_no_folder_behind(tmp_path, monkeypatch, gradio_cache):
    """Each run's masks move into Gradio's cache (swept by ``delete_cache``) and the
    run's own folder goes: ten clicks leave the temporary folder as it was."""
    runs_dir = tmp_path / 'tmp'
    runs_dir.mkdir()
    page = build_page(stub_segment_demo(monkeypatch, runs_dir, lambda image: None))
    segment = click_handler(page, 'segment-run')
    for _ in range(10):
        pictures, files, summary, status = segment(images(tmp_path, 2))
        assert status == '' and len(pictures) == 2 and 'sky' in summary
    assert list(runs_dir.iterdir()) == []
    assert [os.path.basename(f) for f in files] == ['picture0_mask.png', 'picture1_mask.png']
    assert all(str(gradio_cache) in f and os.path.isfile(f) for f in files)
    assert page.delete_cache == page_module.DELETE_CACHE


def test_internal_errors_are_logged_not_shown(tmp_path, monkeypatch, gradio_cache, caplog):
    def crash(image):
        raise RuntimeError('CUDA out of memory at /srv/models/secret.pth')
    segment = click_handler(build_page(stub_segment_demo(monkeypatch, tmp_path, crash)),
                            'segment-run')
    with caplog.at_level(logging.ERROR, logger=page_module.__name__):
        outputs = segment(images(tmp_path, 1))
    assert outputs == [None, None, '', page_module.INTERNAL_ERROR]
    assert 'secret' not in page_module.INTERNAL_ERROR
    assert 'The Segment tab failed' in caplog.text and 'secret.pth' in caplog.text


def test_too_many_files_are_refused_before_any_is_read(tmp_path, monkeypatch, gradio_cache):
    seen = []
    segment = click_handler(build_page(stub_segment_demo(monkeypatch, tmp_path, seen.append)),
                            'segment-run')
    *_, status = segment(images(tmp_path, 9))
    assert status == ('**Cannot run:** 9 images were sent; the page takes up to 8 at a '
                      'time: send them in groups of 8 or fewer.')
    assert seen == []


def test_a_bomb_in_the_image_editor_gets_the_pages_message(tmp_path, monkeypatch,
                                                           gradio_cache, decoders_limited):
    """Gradio decodes the editor's picture itself; under the page's cap Pillow refuses
    it from the header, and the page says why and what to do."""
    from gradio.components.image_editor import EditorData
    from gradio.data_classes import FileData

    from mmseg_expres.web_demo import FewShotDemo
    page = build_page(stub_segment_demo(monkeypatch, tmp_path, lambda image: None),
                      FewShotDemo(None))
    editor, = [block for block in page.blocks.values()
               if getattr(block, 'elem_id', None) == 'fewshot-reference-1']
    payload = EditorData(background=FileData(path=write_png_bomb(str(tmp_path / 'b.png'))),
                         layers=[], composite=None)
    with pytest.raises(gr.Error, match='The reference picture is over 16,777,216 pixels; '
                                       'the page takes images up to 4096 pixels a side'):
        editor.preprocess(payload)


def test_serve_bounds_the_queue_hides_errors_and_warns_without_a_login(
        tmp_path, monkeypatch, gradio_cache, caplog):
    launched = []
    monkeypatch.setattr(gr.Blocks, 'launch', lambda self, **kwargs: launched.append(kwargs))
    page = build_page(stub_segment_demo(monkeypatch, tmp_path, lambda image: None))
    with caplog.at_level(logging.WARNING, logger=page_module.__name__):
        serve(page, '0.0.0.0', 7860, '10mb', queue_size=5)
    assert page._queue.max_size == 5
    assert launched[-1]['show_error'] is False and launched[-1]['auth'] is None
    assert 'listens on 0.0.0.0 without a login' in caplog.text and '--auth' in caplog.text

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=page_module.__name__):
        serve(page, '0.0.0.0', 7860, '10mb', queue_size=5, auth=[('ann', 'pw')])
        serve(page, '127.0.0.1', 7860, '10mb', queue_size=5)
    assert launched[-2]['auth'] == [('ann', 'pw')] and caplog.text == ''
