"""The Segment tab's task selector, without a browser: shown only for several task demos,
and each click answered by the task chosen."""
import pytest

from .browser import stub_segment_demo
from .test_page import click_handler, gradio_cache, images  # noqa: F401 (a fixture)

gr = pytest.importorskip('gradio', reason='the page needs Gradio: pip install -e ".[demo]"')

from mmseg_expres.web_demo import SegmentDemo  # noqa: E402
from mmseg_expres.web_demo.page import build_page  # noqa: E402


def selectors(page: gr.Blocks) -> list:
    return [block for block in page.blocks.values()
            if getattr(block, 'elem_id', None) == 'segment-task']


def test_the_chosen_task_answers(tmp_path, monkeypatch, gradio_cache):  # noqa: F811
    ade = stub_segment_demo(monkeypatch, tmp_path, lambda image: None)  # class 0: sky
    city = SegmentDemo(type('StubModel', (), dict(dataset_meta=dict(
        classes=('road', 'car'), palette=[[128, 64, 128], [0, 0, 142]])))())
    page = build_page({'ade': ade, 'city': city})
    selector, = selectors(page)
    assert [choice[1] for choice in selector.choices] == ['ade', 'city']
    assert selector.value == 'ade'
    segment = click_handler(page, 'segment-run')
    for task, present, absent in (('city', 'road', 'sky'), ('ade', 'sky', 'road')):
        pictures, files, summary, status = segment(images(tmp_path, 1), task)
        assert status == '' and len(pictures) == 1, status
        assert f'Task: <b>{task}</b>' in summary
        assert present in summary and absent not in summary
    *_, status = segment(images(tmp_path, 1), 'medical')
    assert status == "**Cannot run:** No task 'medical': choose one of ade, city."


def test_one_checkpoint_gets_no_selector(tmp_path, monkeypatch, gradio_cache):  # noqa: F811
    demo = stub_segment_demo(monkeypatch, tmp_path, lambda image: None)
    page = build_page(demo)
    assert selectors(page) == []
    *_, summary, status = click_handler(page, 'segment-run')(images(tmp_path, 1))
    assert status == '' and 'Task:' not in summary and 'sky' in summary


def test_tasks_or_a_checkpoint_is_asked_for(tmp_path, capsys):
    import runpy

    from ..test_tools.seg_runs import tool
    parse_args = runpy.run_path(tool('web_demo.py'), run_name='web_demo')['parse_args']
    checkpoint = tmp_path / 'a.pth'
    checkpoint.write_bytes(b'')
    config = tmp_path / 'b.py'
    config.write_text('')
    args = parse_args(['c.py', '--tasks', f'a={checkpoint}', f'b={config}:{checkpoint}'])
    assert args.checkpoint is None
    assert args.tasks == [('a', str(checkpoint)), ('b', (str(config), str(checkpoint)))]
    for argv, message in ((['c.py'], 'required: checkpoint (or --tasks'),
                          (['c.py', 'k.pth', '--tasks', f'a={checkpoint}'], 'not both'),
                          (['c.py', '--tasks', 'photo.jpg'], 'photo.jpg is not one'),
                          (['c.py', '--tasks', 'a=none.pth'], "no checkpoint file none.pth")):
        with pytest.raises(SystemExit):
            parse_args(argv)
        assert message in capsys.readouterr().err, argv
