"""The tabs' model calls without a browser: the few-shot example with its uploaded mask."""
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmseg_expres.apis import fewshot_segment
from mmseg_expres.web_demo import FewShotDemo
from mmseg_expres.web_demo.examples import fewshot_example, segment_examples

from .browser import write_fewshot_segmentor


def test_examples_are_pictures_with_their_object_marked(tmp_path):
    scenes = segment_examples(str(tmp_path / 'seg'), count=2, size=(40, 50))
    assert [np.asarray(Image.open(p)).shape for p in scenes] == [(40, 50, 3)] * 2
    reference, mask, queries = fewshot_example(str(tmp_path / 'fss'), num_queries=2)
    marked = np.asarray(Image.open(mask))
    assert set(np.unique(marked)) == {0, 1} and len(queries) == 2
    image = np.asarray(Image.open(reference)).astype(int)
    # the object has its class colour: inside the mask, pixels differ from outside
    assert np.abs(image[marked == 1].mean(0) - image[marked == 0].mean(0)).max() > 20


def test_fewshot_demo_with_an_uploaded_mask_equals_fewshot_segment(tmp_path):
    *_, model = write_fewshot_segmentor(str(tmp_path))
    reference, mask, queries = fewshot_example(str(tmp_path / 'fss'), num_queries=2)
    rgba = np.asarray(Image.open(reference).convert('RGBA'))
    editor = dict(background=rgba, layers=[np.zeros_like(rgba)], composite=rgba)
    result = FewShotDemo(model)([editor], [mask], queries)
    assert [caption for _, caption in result.pictures] == ['object1.png', 'object2.png']
    assert [osp.basename(f) for f in result.files] == ['object1_mask.png', 'object2_mask.png']
    for query, path in zip(queries, result.files):
        expected = fewshot_segment(model, query, [reference], [mask])
        np.testing.assert_array_equal(np.asarray(Image.open(path)), expected)
    assert '2 references' not in result.summary and 'From 1 reference' in result.summary


def test_a_click_reads_each_mask_and_encodes_the_references_once(monkeypatch, tmp_path):
    """Three queries from two references (one uploaded mask file, one painted): the
    mask file is read once and the ViT sees 3 + 2 images, not 3 x (1 + 2)."""
    from mmseg_expres.apis import fewshot_seg
    *_, model = write_fewshot_segmentor(str(tmp_path))
    reference, mask, queries = fewshot_example(str(tmp_path / 'fss'), num_queries=3)
    rgba = np.asarray(Image.open(reference).convert('RGBA'))
    painted = np.zeros_like(rgba)
    painted[4:20, 4:20] = 255
    editors = [dict(background=rgba, layers=[np.zeros_like(rgba)], composite=rgba),
               dict(background=rgba, layers=[painted], composite=rgba)]
    reads, images = [], []
    read = fewshot_seg.read_support_mask
    monkeypatch.setattr(fewshot_seg, 'read_support_mask',
                        lambda mask, *args, **kwargs: reads.append(mask)
                        or read(mask, *args, **kwargs))
    model.backbone.vit.patch_embed.register_forward_hook(
        lambda module, args, out: images.append(args[0].shape[0]))
    result = FewShotDemo(model)(editors, [mask, None], queries)
    assert len(result.pictures) == 3 and 'From 2 references' in result.summary
    assert [m for m in reads if isinstance(m, str)] == [mask] and len(reads) == 2
    assert sum(images) == 3 + 2


def test_what_fewshot_segment_refuses_becomes_a_message(monkeypatch, tmp_path):
    from mmseg_expres.web_demo import DemoInputError, runs
    reference, mask, queries = fewshot_example(str(tmp_path), num_queries=1)
    rgba = np.asarray(Image.open(reference).convert('RGBA'))

    def refuse(*args):
        raise ValueError('object0_mask.png: a mask must have one channel')
    monkeypatch.setattr(runs, 'prepare_supports', refuse)
    with pytest.raises(DemoInputError, match='The references cannot be used: object0_mask'):
        FewShotDemo(None)([dict(background=rgba, layers=[])], [mask], queries)


def test_a_failed_click_leaves_no_folder(monkeypatch, tmp_path):
    """A picture that passes the header check but does not decode, after one that does:
    the click's download folder, made before it, goes with the refusal (both tabs)."""
    import tempfile

    from mmseg_expres.apis import init_model
    from mmseg_expres.web_demo import SegmentDemo

    from ..test_tools.infer_models import DEMO_SEG, ade_meta, write_demo_model
    *_, fewshot = write_fewshot_segmentor(str(tmp_path))
    segmentor = init_model(*write_demo_model(tmp_path / 'seg', DEMO_SEG, ade_meta()))
    reference, mask, queries = fewshot_example(str(tmp_path / 'fss'), num_queries=1)
    broken = tmp_path / 'broken.png'
    broken.write_bytes(open(queries[0], 'rb').read()[:120])  # the header, cut short
    rgba = np.asarray(Image.open(reference).convert('RGBA'))
    editor = dict(background=rgba, layers=[np.zeros_like(rgba)], composite=rgba)
    runs = tmp_path / 'runs'
    runs.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(runs))
    with pytest.raises(Exception):
        SegmentDemo(segmentor)([queries[0], str(broken)])
    with pytest.raises(Exception):
        FewShotDemo(fewshot)([editor], [mask], [queries[0], str(broken)])
    assert list(runs.iterdir()) == []
