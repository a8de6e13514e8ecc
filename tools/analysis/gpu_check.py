"""Check an install on a CUDA machine end to end, before a long training job.

    python tools/analysis/gpu_check.py                         # every check, cuda:0
    python tools/analysis/gpu_check.py --checks parity amp     # some of them
    python tools/analysis/gpu_check.py --device cpu --checks parity amp ddp   # no GPU

Checks (a pass/fail table at the end; exit status 1 if one fails):

* ``parity``: ExpresViT (full; one-way split, its no-grad path, masked) and VPTViT on the
  device in fp32 against a float64 CPU reference of the same weights: outputs and prompt
  gradients agree within ``PARITY_TOLERANCE`` of each tensor's largest value (TF32 off).
* ``amp``: training iterations of the demo-size EXPRES UperNet with
  ``AutocastOptimWrapper`` (what ``--amp`` uses) in fp16 with its dynamic loss scale and in
  bf16: finite losses, the prompts move, the frozen ViT does not, and the loss scaler
  skips no step after the first ``AMP_SETTLE`` (where fp16 overflows would show).
* ``ddp``: ``tools/dist_train.sh`` on generated data with one process per GPU (NCCL; one
  gloo process on a CPU), ``--resume`` to a later iteration, ``tools/test.py`` and
  ``MMSegInferencer`` on the task checkpoint, all on the device.
* ``bench``: ``tools/analysis/benchmark.py`` on the device (ViT-B/16 classification and
  UperNet 512x512 steps, fp32 and AMP, with the GPU targets); CUDA only.

``--size tiny`` uses the test suite's tiny ViT for parity and AMP (what CI runs).
"""
import argparse
import copy
import glob
import json
import math
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

import torch
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / 'configs' / 'demo' / 'expres_vit-demo_upernet_1xb4-300it_ade20k-128x128.py'
CHECKS = ('parity', 'amp', 'ddp', 'bench')
#: |device - float64 reference| <= tolerance * max |reference|, per tensor.
PARITY_TOLERANCE = 1e-4
AMP_ITERS, AMP_SETTLE = 12, 4
TINY = dict(arch='test_vit', img_size=32,
            vit_cfg=dict(patch_size=8, embed_dim=32, depth=4, num_heads=2))


class Result(NamedTuple):
    check: str
    passed: bool
    detail: str


# ------------------------------------------------------------------------- parity
def _backbone_kwargs(size: str) -> dict:
    if size == 'tiny':
        return copy.deepcopy(TINY)
    backbone = Config.fromfile(str(DEMO_CONFIG)).model.backbone
    return dict(arch=backbone.arch, img_size=tuple(backbone.img_size),
                vit_cfg=backbone.vit_cfg.to_dict())


def _relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    scale = reference.abs().max().item() or 1.0
    return (value.double().cpu() - reference).abs().max().item() / scale


def _outputs_and_prompt_grads(model: torch.nn.Module, images: torch.Tensor,
                              grad: bool) -> Dict[str, torch.Tensor]:
    """Every output, and with ``grad`` the gradients of a fixed loss on the prompts."""
    model.zero_grad(set_to_none=True)
    with torch.set_grad_enabled(grad):
        outs = model(images)
    found = {f'output {i}': out.detach() for i, out in enumerate(outs)}
    if grad:
        # a loss that weights every element differently, so that no error cancels
        loss = sum((out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype,
                                         device=out.device).view_as(out)).sum()
                   for out in outs)
        loss.backward()
        found.update({f'grad {name}': p.grad for name, p in model.named_parameters()
                      if p.requires_grad})
    return found


def parity_cases(size: str) -> Dict[str, Callable[[], torch.nn.Module]]:
    from mmseg_expres.models import ExpresViT, VPTViT
    vit = _backbone_kwargs(size)
    depth = vit['vit_cfg']['depth']
    maps = dict(out_indices=(depth // 2, depth - 1))
    return {
        'ExpresViT full': lambda: ExpresViT(num_tokens=3, **maps, output_tokens=True, **vit),
        'ExpresViT one-way split': lambda: ExpresViT(
            num_tokens=3, visibility='one_way', readout='mean', **maps, **vit),
        'ExpresViT one-way masked': lambda: ExpresViT(
            num_tokens=3, visibility='one_way', one_way_impl='masked', readout='mean',
            **maps, **vit),
        'VPTViT deep': lambda: VPTViT(num_tokens=4, mode='deep', readout='cls', **maps, **vit),
    }


def check_parity(device: torch.device, size: str,
                 tolerance: float = PARITY_TOLERANCE) -> List[Result]:
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    results = []
    for name, build in parity_cases(size).items():
        torch.manual_seed(0)
        model = build()
        with torch.no_grad():  # residuals start at zero; give every site a say
            for p in model.parameters():
                if p.requires_grad:
                    p.add_(0.05 * torch.randn_like(p))
        side = model.vit.patch_embed.img_size
        images = torch.randn(2, 3, *side, generator=torch.Generator().manual_seed(1))
        reference = copy.deepcopy(model).double()
        on_device = model.to(device)
        worst, where, compared = 0.0, '', 0
        for grad in (True, False):  # training paths, then the no-grad ones
            expected = _outputs_and_prompt_grads(reference, images.double(), grad)
            actual = _outputs_and_prompt_grads(on_device, images.to(device), grad)
            compared += len(expected)
            for key, value in expected.items():
                error = _relative_error(actual[key], value)
                if error > worst:
                    worst, where = error, f'{key}{"" if grad else " (no grad)"}'
        results.append(Result(f'parity: {name}', worst <= tolerance,
                              f'max relative error {worst:.1e} ({where}), tolerance '
                              f'{tolerance:.0e}, {compared} tensors'))
    return results


# ---------------------------------------------------------------------------- amp
def _demo_segmentor(size: str, device: torch.device) -> torch.nn.Module:
    """The demo config's model, random weights, in train mode; ``tiny``: the tiny ViT."""
    from mmengine.model import revert_sync_batchnorm

    from mmseg_expres.apis import init_model
    cfg = Config.fromfile(str(DEMO_CONFIG))
    model = cfg.model
    model.backbone.pretrained = None
    if size == 'tiny':
        width = TINY['vit_cfg']['embed_dim']
        model.backbone.update(TINY, out_indices=(0, 1, 2, 3))
        model.data_preprocessor.size = (TINY['img_size'],) * 2
        model.neck.update(in_channels=[width] * 4, out_channels=width)
        model.decode_head.update(in_channels=[width] * 4, channels=16)
        model.auxiliary_head.update(in_channels=width, channels=8)
    # one process: SyncBN as BN, as MMEngine's runner does
    return revert_sync_batchnorm(init_model(cfg, device=str(device))).train()


def _segmentation_batch(model: torch.nn.Module, batch: int = 2) -> dict:
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    height, width = model.data_preprocessor.size
    generator = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, height, width), generator=generator,
                                    dtype=torch.uint8))
        sample = SegDataSample(metainfo=dict(img_shape=(height, width),
                                             pad_shape=(height, width)))
        sample.gt_sem_seg = PixelData(data=torch.randint(
            0, 150, (1, height, width), generator=generator))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def amp_run(device: torch.device, size: str, dtype: str, iters: int = AMP_ITERS,
            loss_factor: float = 1.0) -> dict:
    """Train ``iters`` AMP iterations; what moved, what did not, the scaler's record.

    ``loss_factor`` multiplies the loss (tests use a huge one to force fp16 overflows).
    """
    from mmengine.optim import build_optim_wrapper

    import mmseg_expres.engine  # noqa: F401  (registers AutocastOptimWrapper)
    torch.manual_seed(0)
    model = _demo_segmentor(size, device).train()
    wrapper = build_optim_wrapper(model, dict(
        type='AutocastOptimWrapper', dtype=dtype, loss_scale='dynamic',
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.0)))
    prompts = {n: p.detach().clone() for n, p in model.backbone.prompts.named_parameters()}
    fingerprint = model.backbone.frozen_fingerprint()
    batch = _segmentation_batch(model)
    losses, skipped = [], []
    for _ in range(iters):
        with wrapper.optim_context(model):
            data = model.data_preprocessor(batch, True)
            parsed, _ = model.parse_losses(model._run_forward(data, mode='loss'))
        scale = wrapper.loss_scaler.get_scale() if wrapper.loss_scaler.is_enabled() else 1
        wrapper.update_params(parsed * loss_factor)
        after = wrapper.loss_scaler.get_scale() if wrapper.loss_scaler.is_enabled() else 1
        losses.append(parsed.item())
        skipped.append(after < scale)  # a dynamic scaler backs off on a skipped step
    moved = {n: not torch.equal(p.detach(), prompts[n])
             for n, p in model.backbone.prompts.named_parameters()}
    return dict(losses=losses, skipped=skipped, prompts_moved=moved,
                vit_unchanged=torch.equal(model.backbone.frozen_fingerprint(), fingerprint))


def check_amp(device: torch.device, size: str) -> List[Result]:
    results = []
    for dtype in ('float16', 'bfloat16'):
        if dtype == 'bfloat16' and device.type == 'cuda' and \
                not torch.cuda.is_bf16_supported():
            results.append(Result('amp: bfloat16', True, 'skipped: no bf16 on this GPU'))
            continue
        run = amp_run(device, size, dtype)
        late_skips = sum(run['skipped'][AMP_SETTLE:])
        finite = all(map(math.isfinite, run['losses']))
        passed = finite and all(run['prompts_moved'].values()) and run['vit_unchanged'] \
            and late_skips == 0
        results.append(Result(
            f'amp: {dtype}', passed,
            f'loss {run["losses"][0]:.3f} -> {run["losses"][-1]:.3f} over '
            f'{len(run["losses"])} iterations, finite: {finite}; prompts moved: '
            f'{sum(run["prompts_moved"].values())}/{len(run["prompts_moved"])}; frozen ViT '
            f'unchanged: {run["vit_unchanged"]}; skipped steps {sum(run["skipped"])} '
            f'({late_skips} after the first {AMP_SETTLE})'))
    return results


# ---------------------------------------------------------------------------- ddp
def _run(cmd: Sequence[str], log: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(list(cmd), cwd=REPO, capture_output=True, text=True,
                            timeout=timeout)
    log.write_text(result.stdout + result.stderr)
    return result


def _ddp_config(work: Path) -> Path:
    """The demo config on a small generated set, 2 + 2 iterations, checkpoints at 2."""
    subprocess.run([sys.executable, str(REPO / 'tools' / 'make_demo_assets.py'),
                    '--out', str(work / 'data'), '--num-train', '8', '--num-val', '2'],
                   cwd=REPO, check=True, capture_output=True)
    data_root = work / 'data' / 'ADEChallengeData2016'
    path = work / 'ddp_check.py'
    path.write_text(f'''_base_ = [{str(DEMO_CONFIG)!r}]
model = dict(backbone=dict(pretrained={str(work / 'data' / 'vit_demo.pth')!r}))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root={str(data_root)!r}))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root={str(data_root)!r}))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=4, val_interval=4)
default_hooks = dict(checkpoint=dict(interval=2), logger=dict(interval=1))
''')
    return path


def check_ddp(device: torch.device, work: Path) -> List[Result]:
    gpus = torch.cuda.device_count() if device.type == 'cuda' else 1
    backend = 'nccl' if device.type == 'cuda' else 'gloo'
    cfg = _ddp_config(work)
    run_dir = work / 'ddp'
    dist_train = ['bash', str(REPO / 'tools' / 'dist_train.sh'), str(cfg), str(gpus),
                  '--work-dir', str(run_dir)]
    results = []
    first = _run(dist_train + ['--cfg-options', 'train_cfg.max_iters=2'],
                 work / 'train.log')
    ok = first.returncode == 0 and (run_dir / 'iter_2.pth').is_file()
    results.append(Result(f'ddp: dist_train.sh, {gpus} process(es), {backend}', ok,
                          f'exit {first.returncode}, log {work / "train.log"}'))
    if not ok:
        return results
    resumed = _run(dist_train + ['--resume'], work / 'resume.log')
    ok = resumed.returncode == 0 and 'resumed epoch: 0, iter: 2' in \
        resumed.stdout + resumed.stderr and (run_dir / 'iter_4.pth').is_file()
    results.append(Result('ddp: --resume from iteration 2 to 4', ok,
                          f'exit {resumed.returncode}, log {work / "resume.log"}'))
    checkpoint = run_dir / 'iter_4.pth'
    if not ok:
        return results
    tested = _run([sys.executable, str(REPO / 'tools' / 'test.py'), str(cfg),
                   str(checkpoint), '--work-dir', str(work / 'test')], work / 'test.log')
    miou = re.findall(r'mIoU: ([0-9.]+)', tested.stdout + tested.stderr)
    results.append(Result('ddp: tools/test.py on the task checkpoint',
                          tested.returncode == 0 and bool(miou),
                          f'exit {tested.returncode}, mIoU {miou[-1] if miou else "-"}'))
    results.append(_inferencer_result(cfg, checkpoint, work, device))
    return results


def _inferencer_result(cfg: Path, checkpoint: Path, work: Path,
                       device: torch.device) -> Result:
    from mmseg.apis import MMSegInferencer
    image = sorted(glob.glob(str(work / 'data' / 'ADEChallengeData2016' / 'images' /
                                 'validation' / '*.jpg')))[0]
    try:
        inferencer = MMSegInferencer(model=str(cfg), weights=str(checkpoint),
                                     device=str(device))
        prediction = inferencer(image)['predictions']
        on_device = next(inferencer.model.parameters()).device.type == device.type
        return Result('ddp: MMSegInferencer on the task checkpoint', on_device,
                      f'prediction {tuple(prediction.shape)} on {device}')
    except Exception as error:  # the table reports it; the traceback would hide the rest
        return Result('ddp: MMSegInferencer on the task checkpoint', False,
                      f'{type(error).__name__}: {error}')


# -------------------------------------------------------------------------- bench
def check_bench(device: torch.device, work: Path) -> List[Result]:
    out = work / 'benchmark.json'
    result = _run([sys.executable, str(REPO / 'tools' / 'analysis' / 'benchmark.py'),
                   '--device', str(device), '--sections', 'cls', 'infer', 'seg',
                   '--seg-amp', 'on', '--json', str(out)], work / 'benchmark.log', 3600)
    if result.returncode != 0:
        return [Result('bench: tools/analysis/benchmark.py', False,
                       f'exit {result.returncode}, log {work / "benchmark.log"}')]
    print(result.stdout)
    report = json.loads(out.read_text())
    return [Result(f'bench: {t["target"]}', t['median_ratio'] <= t['limit'],
                   f'{t["median_ratio"]:.2f} (limit {t["limit"]:.2f})')
            for t in report['targets']]


# --------------------------------------------------------------------------- main
def results_table(results: List[Result]) -> str:
    lines = ['| check | result | detail |', '|---|---|---|']
    lines += [f'| {r.check} | {"pass" if r.passed else "FAIL"} | {r.detail} |'
              for r in results]
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else None)
    parser.add_argument('--checks', nargs='+', choices=CHECKS, default=list(CHECKS))
    parser.add_argument('--size', choices=['demo', 'tiny'], default='demo',
                        help='model size of the parity and AMP checks')
    parser.add_argument('--tolerance', type=float, default=PARITY_TOLERANCE,
                        help='parity: largest error allowed, relative to the largest value')
    parser.add_argument('--work-dir', help='keep logs, data and checkpoints here')
    parser.add_argument('--json', help='also write the results here')
    args = parser.parse_args(argv)
    if args.device is None:
        parser.error('no CUDA device here; pass --device cpu to check the CPU paths')
    device = torch.device(args.device)
    if 'bench' in args.checks and device.type != 'cuda':
        parser.error('--checks bench times the GPU; on the CPU run '
                     'tools/analysis/benchmark.py directly')
    work = Path(args.work_dir or tempfile.mkdtemp(prefix='gpu_check_'))
    work.mkdir(parents=True, exist_ok=True)
    runners = dict(parity=lambda: check_parity(device, args.size, args.tolerance),
                   amp=lambda: check_amp(device, args.size),
                   ddp=lambda: check_ddp(device, work),
                   bench=lambda: check_bench(device, work))
    results: List[Result] = []
    for check in args.checks:
        start = time.time()
        try:
            found = runners[check]()
        except Exception as error:  # one broken check must not hide the others
            found = [Result(check, False, f'{type(error).__name__}: {error}')]
        results += found
        print(f'{check}: {sum(r.passed for r in found)}/{len(found)} passed '
              f'({time.time() - start:.0f} s)', flush=True)
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'
    print(f'\n{name}, torch {torch.__version__}, work dir {work}\n')
    print(results_table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(
            dict(device=name, results=[r._asdict() for r in results]), indent=2))
    return 0 if all(r.passed for r in results) else 1


if __name__ == '__main__':
    sys.exit(main())
