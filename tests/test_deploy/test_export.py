"""ONNX export (tools/deploy/export_onnx.py) and the torch-free runner (infer_onnx.py):
the demo UperNet model, LoRA and SSF merged tiny models, parity with PyTorch, the
graph's ops, and the files the runner writes against tools/infer.py's."""
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from PIL import Image

from mmseg_expres.apis import init_model
from mmseg_expres.deploy.export import cubic_resizes
from mmseg_expres.deploy.parity import generated_images, torch_logits
from mmseg_expres.deploy.runtime import KEY, DeployInfo

from ..test_apis.test_model_loading import trained_task_checkpoint, write_user_config
from ..test_tools.infer_models import DEMO_SEG, ade_meta, write_demo_model
from .deploy_runs import INFER_ONNX, export_main, onnx_outputs, run_without_torch

PARITY = re.compile(r'max \|logit diff\| (\S+), relative (\S+), pixels of the same class '
                    r'(\S+) %')


@pytest.fixture(scope='module')
def demo_onnx(tmp_path_factory):
    """The README demo's UperNet (random ViT) exported at its crop, 128x128, into a
    folder that does not exist yet."""
    folder = tmp_path_factory.mktemp('demo')
    config, task = write_demo_model(folder, DEMO_SEG, ade_meta())
    out = folder / 'not' / 'yet' / 'demo.onnx'
    return config, task, out, export_main([config, task, '--out', str(out)])


def test_demo_export_passes_parity_without_bicubic_resize(demo_onnx, capsys):
    config, task, out, status = demo_onnx
    assert status == 0 and out.is_file()  # the missing folders were made
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    # the position embedding is fixed at the export size: no bicubic resize is left
    # (timm resamples on every forward and, while exporting, even at the trained size)
    assert cubic_resizes(model) == []
    assert not [n for n in model.graph.node if n.op_type == 'Resize' and
                'pos_embed' in n.name]
    info = DeployInfo.from_metadata({p.key: p.value for p in model.metadata_props})
    assert (info.shape, info.channels, info.outputs) == ((128, 128), 'RGB', ['classes'])
    assert tuple(info.classes) == tuple(ade_meta()['classes'])
    assert [o.name for o in model.graph.output] == ['classes']
    # the file's classes are PyTorch's on an image it never saw
    torch_model = init_model(config, task)
    image = generated_images((128, 128), count=1, seed=7)[0]
    classes = onnx_outputs(str(out), image)['classes']
    assert (classes == torch_logits(torch_model, image).argmax(0)).mean() >= 0.999


def test_infer_onnx_runs_without_torch_and_writes_infer_pys_files(demo_onnx, tmp_path):
    """The same palette PNG and overlay as tools/infer.py's path, from a process in
    which importing torch (and mmcv, mmengine, mmseg) fails."""
    from mmseg_expres.apis.media import expand_inputs
    from mmseg_expres.apis.segment_files import Segmenter, segment_files
    config, task, out, _ = demo_onnx
    images = tmp_path / 'in'
    images.mkdir()
    scenes = generated_images((128, 128), count=2, seed=3)
    Image.fromarray(scenes[0]).save(images / 'scene.png')
    Image.fromarray(generated_images((90, 150), count=1)[0]).save(images / 'wide.jpg')
    result = run_without_torch(INFER_ONNX, str(out), str(images), '--out-dir',
                               str(tmp_path / 'onnx'))
    assert result.returncode == 0, result.stderr
    assert 'Segmented 2 image(s)' in result.stdout
    sources, _ = expand_inputs([str(images)])
    segment_files(Segmenter(init_model(config, task)), sources, str(tmp_path / 'torch'),
                  show_progress=False)
    for name in ('scene', 'wide'):
        onnx_pred = Image.open(tmp_path / 'onnx' / 'in' / f'{name}_pred.png')
        torch_pred = Image.open(tmp_path / 'torch' / 'in' / f'{name}_pred.png')
        assert onnx_pred.mode == torch_pred.mode == 'P'
        assert onnx_pred.getpalette() == torch_pred.getpalette()
        assert onnx_pred.size == torch_pred.size  # at the image's own size
        overlays = [Image.open(tmp_path / kind / 'in' / f'{name}_overlay.png')
                    for kind in ('onnx', 'torch')]
        # image + legend; the legend's height follows the classes found
        assert overlays[0].width == overlays[1].width
    # at the export size both run the same pixels through the same network
    same = np.asarray(Image.open(tmp_path / 'onnx' / 'in' / 'scene_pred.png')) == \
        np.asarray(Image.open(tmp_path / 'torch' / 'in' / 'scene_pred.png'))
    assert same.mean() >= 0.999


#: UperNet's pooling at a map that no pool scale but 1 and 2 divides: 128 px at patch 8
#: is a 16x16 map into 3 and 6 (mmdeploy's avg_pool2d rewrite gives other numbers)
def with_pool_scales(config: str, scales: str = '(1, 2, 3, 6)') -> str:
    text = Path(config).read_text()
    assert 'pool_scales=(1, 2)' in text
    Path(config).write_text(text.replace('pool_scales=(1, 2)', f'pool_scales={scales}'))
    return config


@pytest.mark.parametrize('method, shape, channels', [('lora', (128, 128), 'RGB'),
                                                     ('ssf', (64, 96), 'BGR')])
def test_merged_peft_exports_match_the_unmerged_model(method, shape, channels, tmp_path):
    """LoRA and SSF are merged into the ViT before the export; the graph matches the
    trained (unmerged) PyTorch model to 1e-4, at 128x128 through UperNet's pool scales
    3 and 6 of a 16x16 map (LoRA), at 64x96 off the 32x32 crop (SSF: the position
    embedding resampled at export time, as timm does on the fly), from BGR pixels."""
    config = with_pool_scales(write_user_config(tmp_path, method))
    trained = trained_task_checkpoint(config, str(tmp_path / 'task.pth')).eval()
    out = str(tmp_path / f'{method}.onnx')
    assert export_main([config, str(tmp_path / 'task.pth'), '--out', out, '--shape',
                        *map(str, shape), '--logits', '--channels', channels]) == 0
    model = onnx.load(out)
    assert not [i.name for i in model.graph.initializer
                if 'lora' in i.name.lower() or 'ssf' in i.name.lower()]
    for image in generated_images(shape, count=2, seed=11):
        outputs = onnx_outputs(out, image if channels == 'RGB' else image[..., ::-1].copy())
        expected = torch_logits(trained, image)
        np.testing.assert_allclose(outputs['logits'], expected, atol=1e-4, rtol=0)
        assert np.array_equal(outputs['classes'], expected.argmax(0))


def test_infer_onnx_names_what_it_cannot_read(demo_onnx, tmp_path):
    """A broken image is named and skipped (exit 1); a file without the export's
    metadata is refused with what to do."""
    out = demo_onnx[2]
    good, broken = tmp_path / 'good.png', tmp_path / 'broken.png'
    Image.fromarray(generated_images((128, 128), count=1)[0]).save(good)
    broken.write_bytes(good.read_bytes()[:40])
    result = run_without_torch(INFER_ONNX, str(out), str(good), str(broken), '--out-dir',
                               str(tmp_path / 'out'))
    assert result.returncode == 1
    assert 'Segmented 1 image(s)' in result.stdout
    assert f'{broken}: Cannot decode' in result.stderr
    bare = onnx.load(str(out))
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / 'bare.onnx'))
    result = run_without_torch(INFER_ONNX, str(tmp_path / 'bare.onnx'), str(good),
                               '--out-dir', str(tmp_path / 'out'))
    assert result.returncode == 1 and "carries no 'mmseg_expres' metadata" in result.stderr
