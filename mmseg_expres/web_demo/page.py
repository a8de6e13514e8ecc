"""The Gradio page: a *Segment* tab (with a task selector, ``segment-task``, when given
several task demos) and a *One-shot segmentation* tab.

Every element a test or a user's script looks for has an ``elem_id``; the messages for
inputs the page cannot use appear in each tab's status line (``*-status``), and the run's
outputs are cleared then. Whoever reaches the page sees only those messages: any other
error is logged on the server and shown as :data:`INTERNAL_ERROR`.
"""
import contextlib
import html
import logging
import os
import os.path as osp
from typing import Callable, List, Mapping, Optional, Sequence, Tuple, Union

import gradio as gr
from PIL import Image

from .inputs import DemoInputError, check_file_count, too_large
from .runs import MAX_REFERENCES, FewShotDemo, Result, SegmentDemo

logger = logging.getLogger(__name__)

INTERNAL_ERROR = ('**Something went wrong on the server**; its log has the details. Try '
                  'again, or with other files.')
#: Gradio's cache (uploads, the pictures and masks of the runs) is swept every 10 minutes
#: of what is older than an hour, and emptied when the page stops.
DELETE_CACHE = (600, 3600)
LOCAL_HOSTS = ('127.0.0.1', 'localhost', '::1')

CSS = """
.legend td, .legend th { padding: 2px 8px; }
.swatch { display: inline-block; width: 1.2em; height: 1.2em; border: 1px solid #888; }
"""
SEGMENT_HELP = ('Upload one or more images (or pick an example) and press **Segment**: '
                'each class is tinted with its colour; the index masks (one class index '
                'per pixel, PNG) can be downloaded.')
FEWSHOT_HELP = (
    'Upload a **reference** picture, paint over the object with the brush (or upload its '
    'mask: the object 1 or 255, the rest 0), add up to {n} references, upload **query** '
    'images and press **Find the object**. The masks to download are 0/1 PNGs.')
TASK_HELP = ('Task: which of the task checkpoints (on one frozen ViT) segments the '
             'images.')
NO_FEWSHOT = ('No few-shot segmentor was given: start the page with '
              '`--fewshot CONFIG CHECKPOINT` (the demo one comes from '
              '`bash tools/fewshot_seg/run_demo.sh`).')


def _guarded(run: Callable[..., Result], files: gr.File, tab: str) -> Callable[..., list]:
    """``run``'s result as (pictures, files, summary, status); a :class:`DemoInputError`
    as empty outputs and its message in the status line; any other error logged here and
    :data:`INTERNAL_ERROR` there (its text may hold paths and internals of the server).

    The run's files move to ``files``' cache (:func:`_hand_over`)."""
    def handler(*args):
        try:
            result = run(*args)
        except DemoInputError as err:
            return [None, None, '', f'**Cannot run:** {err}']
        except Exception:  # noqa: BLE001 (the page must answer, and say nothing inside)
            logger.exception('The %s tab failed on a request', tab)
            return [None, None, '', INTERNAL_ERROR]
        return [result.pictures, _hand_over(files, result.files), result.summary, '']
    return handler


def _hand_over(files: gr.File, paths: Sequence[str]) -> List[str]:
    """``paths`` copied into Gradio's cache, which ``DELETE_CACHE`` sweeps, and removed
    with their folder (each run writes a new one), so that no click leaves files behind.
    """
    cached = [files.move_resource_to_block_cache(path) for path in paths]
    for path in paths:
        os.remove(path)
    for folder in {osp.dirname(path) for path in paths}:
        with contextlib.suppress(OSError):  # a folder that holds more is left as it is
            os.rmdir(folder)
    return cached


def reference_editor(**kwargs) -> gr.ImageEditor:
    """Gradio's image editor, refusing a picture over the process's pixel cap
    (:func:`~.inputs.limit_decoders`) with the page's message instead of Pillow's.

    Its own ``preprocess`` (where Gradio decodes the picture) is wrapped rather than
    overridden in a subclass: defining a component class makes Gradio write a ``.pyi``
    stub beside this module. Give the editor new values, not ``gr.update``s (which would
    rebuild it from its class, without the wrapper).
    """
    editor = gr.ImageEditor(**kwargs)
    decode = editor.preprocess

    def preprocess(payload):
        try:
            return decode(payload)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise gr.Error(too_large('The reference picture')) from None
    editor.preprocess = preprocess
    return editor


def _outputs(prefix: str, files_label: str) -> list:
    status = gr.Markdown(elem_id=f'{prefix}-status')
    gallery = gr.Gallery(label='Result', format='png', columns=2, object_fit='contain',
                         elem_id=f'{prefix}-gallery', interactive=False)
    summary = gr.HTML(elem_id=f'{prefix}-summary')
    files = gr.File(label=files_label, file_count='multiple', interactive=False,
                    elem_id=f'{prefix}-files')
    return [gallery, files, summary, status]


def _example_gallery(pictures: Sequence[str], label: str, elem_id: str) -> gr.Gallery:
    """Example pictures to click, in place of ``gr.Examples``: Gradio 6.17's example table
    throws in the browser for file inputs, and the image editor on the same page then
    stays blank (tests/test_web_demo checks the page's console stays clean)."""
    return gr.Gallery(list(pictures), label=label, columns=3, height=230,
                      object_fit='contain', allow_preview=False, interactive=False,
                      elem_id=elem_id)


def _picker(choices: Sequence[object]) -> Callable[[gr.SelectData], object]:
    """A gallery's select handler that returns the clicked picture's entry of
    ``choices``."""
    def pick(event: gr.SelectData):
        return choices[event.index]
    return pick


def segment_tab(demo: Union[SegmentDemo, Mapping[str, SegmentDemo]],
                examples: Sequence[str]) -> None:
    """The Segment tab; for several task demos ({name: demo}), a task selector
    (``segment-task``) beside the images."""
    demos = dict(demo) if isinstance(demo, Mapping) else {'': demo}
    names = list(demos)
    gr.Markdown(SEGMENT_HELP)
    with gr.Row():
        with gr.Column():
            task = gr.Radio(names, value=names[0], label='Task', info=TASK_HELP,
                            elem_id='segment-task') if len(names) > 1 else None
            images = gr.File(label='Images', file_count='multiple', file_types=['image'],
                             elem_id='segment-images')
            if examples:
                _example_gallery(examples, 'Examples (generated scenes): click one to use it',
                                 'segment-examples').select(
                    _picker([[path] for path in examples]), None, images)
            button = gr.Button('Segment', variant='primary', elem_id='segment-run')
        with gr.Column():
            outputs = _outputs('segment', 'Index masks')

    def run(paths, name=names[0]):
        if name not in demos:  # a request the page's selector would not send
            raise DemoInputError(f'No task {name!r}: choose one of {", ".join(names)}.')
        result = demos[name](check_file_count(paths, 'images'))
        if task is None:
            return result
        return result._replace(summary=f'<p>Task: <b>{html.escape(name)}</b></p>'
                               + result.summary)
    button.click(_guarded(run, outputs[1], 'Segment'),
                 inputs=images if task is None else [images, task], outputs=outputs)


def fewshot_tab(demo: Optional[FewShotDemo], examples: Sequence[Sequence[str]]) -> None:
    if demo is None:
        gr.Markdown(NO_FEWSHOT, elem_id='fewshot-status')
        return
    gr.Markdown(FEWSHOT_HELP.format(n=MAX_REFERENCES))
    shown = gr.State(1)
    editors, masks, slots = [], [], []
    with gr.Row():
        with gr.Column():
            for i in range(MAX_REFERENCES):
                with gr.Group(visible=i == 0) as slot:
                    editors.append(reference_editor(
                        label=f'Reference {i + 1}: paint over the object', type='numpy',
                        image_mode='RGBA', format='png', sources=('upload', 'clipboard'),
                        transforms=(), layers=False, elem_id=f'fewshot-reference-{i}',
                        brush=gr.Brush(colors=['#ff3030'], color_mode='fixed')))
                    masks.append(gr.File(label=f'or the mask of reference {i + 1}',
                                         file_types=['image'], height=80,
                                         elem_id=f'fewshot-mask-{i}'))
                slots.append(slot)
            with gr.Row():
                add = gr.Button('Add a reference', elem_id='fewshot-add')
                remove = gr.Button('Remove the last', elem_id='fewshot-remove')
            queries = gr.File(label='Query images', file_count='multiple',
                              file_types=['image'], elem_id='fewshot-queries')
            if examples:  # each example's pictures; a click on one loads all of them
                shown_examples = [(picture, e) for e in examples
                                  for picture in [e[0], *e[2]]]
                _example_gallery([picture for picture, _ in shown_examples],
                                 'Example (generated): click it to load a reference, its '
                                 'mask and queries', 'fewshot-examples').select(
                    _picker([list(e) for _, e in shown_examples]), None,
                    [editors[0], masks[0], queries])
            button = gr.Button('Find the object', variant='primary', elem_id='fewshot-run')
        with gr.Column():
            outputs = _outputs('fewshot', 'Masks (queries; painted references, to reuse)')

    def show(count: int) -> List:
        return [count] + [gr.update(visible=i < count) for i in range(MAX_REFERENCES)]
    add.click(lambda n: show(min(n + 1, MAX_REFERENCES)), shown, [shown] + slots)
    remove.click(lambda n: show(max(n - 1, 1)), shown, [shown] + slots)

    def run(count: int, *values):
        editors_, masks_, queries_ = (values[:MAX_REFERENCES],
                                      values[MAX_REFERENCES:2 * MAX_REFERENCES], values[-1])
        return demo(editors_[:count], masks_[:count],
                    check_file_count(queries_, 'query images'))
    button.click(_guarded(run, outputs[1], 'One-shot'),
                 inputs=[shown] + editors + masks + [queries], outputs=outputs)


def build_page(segment: Union[SegmentDemo, Mapping[str, SegmentDemo]],
               fewshot: Optional[FewShotDemo] = None,
               segment_examples: Sequence[str] = (),
               fewshot_examples: Sequence[Sequence[str]] = ()) -> gr.Blocks:
    """The page; :func:`serve` launches it (see tools/web_demo.py). ``segment``: one
    demo, or {task name: demo} for the Segment tab's task selector."""
    with gr.Blocks(title='mmseg-expres demo', analytics_enabled=False,
                   delete_cache=DELETE_CACHE) as page:
        gr.Markdown('# mmseg-expres: EXPRES prompt tuning on a frozen ViT')
        with gr.Tabs():
            with gr.Tab('Segment', id='segment', elem_id='tab-segment'):
                segment_tab(segment, segment_examples)
            with gr.Tab('One-shot segmentation', id='fewshot', elem_id='tab-fewshot'):
                fewshot_tab(fewshot, fewshot_examples)
    return page


def serve(page: gr.Blocks, host: str, port: int, max_file_size: str, queue_size: int,
          auth: Optional[Sequence[Tuple[str, str]]] = None) -> None:
    """Launch ``page``: one model call at a time, at most ``queue_size`` clicks waiting,
    internal errors kept on the server, a login when ``auth`` lists (user, password)."""
    if not auth and host not in LOCAL_HOSTS:
        logger.warning('The page listens on %s without a login: whoever reaches this '
                       'machine can use it. Add --auth USER:PASSWORD (or a file of such '
                       'lines), or listen on 127.0.0.1.', host)
    page.queue(default_concurrency_limit=1, max_size=queue_size)
    page.launch(server_name=host, server_port=port, max_file_size=max_file_size,
                show_error=False, ssr_mode=False, css=CSS, auth=auth or None)
