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
* ``ddp`` (``ddp_check.py``): at least two processes (NCCL, one per GPU, on two or more
  GPUs; else two gloo processes on the GPU or CPU) train a few steps of every backbone type
  and tuning method (EXPRES, VPT, LoRA, AdaptFormer, SSF, bias tuning, fine-tuning) under a
  multi-level head on shards of one global batch, as MMEngine wraps them
  (``find_unused_parameters=False``); every rank's trained tensors and the loss must equal
  one process's on the whole batch within ``DDP_TOLERANCE``, one row per method. Then
  ``tools/dist_train.sh`` on generated data, ``--resume`` to a later iteration,
  ``tools/test.py`` and ``MMSegInferencer`` on the task checkpoint.
* ``bench``: ``tools/analysis/benchmark.py`` on the device (ViT-B/16 classification and
  UperNet 512x512 steps, fp32 and AMP, with the GPU targets); CUDA only.

``--size tiny`` uses the test suite's tiny ViT for parity and AMP (what CI runs).
"""
import argparse
import copy
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmengine.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling ddp_check.py
from ddp_check import DEMO_CONFIG, REPO, Result, check_ddp, run_logged  # noqa: E402

from mmseg_expres.utils.numeric import within, worst_of  # noqa: E402

CHECKS = ('parity', 'amp', 'ddp', 'bench')
#: |device - float64 reference| <= tolerance * max |reference|, per tensor.
PARITY_TOLERANCE = 1e-4
AMP_ITERS, AMP_SETTLE = 12, 4
TINY = dict(arch='test_vit', img_size=32,
            vit_cfg=dict(patch_size=8, embed_dim=32, depth=4, num_heads=2))


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
        errors = []
        for grad in (True, False):  # training paths, then the no-grad ones
            expected = _outputs_and_prompt_grads(reference, images.double(), grad)
            actual = _outputs_and_prompt_grads(on_device, images.to(device), grad)
            errors += [(f'{key}{"" if grad else " (no grad)"}',
                        _relative_error(actual[key], value))
                       for key, value in expected.items()]
        where, worst = worst_of(errors)  # NaN and inf count as the worst error
        compared = len(errors)
        results.append(Result(f'parity: {name}', within(worst, tolerance),
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
    finite = {n: bool(torch.isfinite(p).all())
              for n, p in model.backbone.prompts.named_parameters()}
    return dict(losses=losses, skipped=skipped, prompts_moved=moved, prompts_finite=finite,
                vit_unchanged=torch.equal(model.backbone.frozen_fingerprint(), fingerprint))


def amp_passed(run: dict) -> bool:
    """Finite losses and prompts, every prompt moved, the ViT did not, no late skip."""
    return (all(map(math.isfinite, run['losses'])) and all(run['prompts_finite'].values())
            and all(run['prompts_moved'].values()) and run['vit_unchanged']
            and sum(run['skipped'][AMP_SETTLE:]) == 0)


def check_amp(device: torch.device, size: str) -> List[Result]:
    results = []
    for dtype in ('float16', 'bfloat16'):
        if dtype == 'bfloat16' and device.type == 'cuda' and \
                not torch.cuda.is_bf16_supported():
            results.append(Result('amp: bfloat16', True, 'skipped: no bf16 on this GPU'))
            continue
        run = amp_run(device, size, dtype)
        late_skips = sum(run['skipped'][AMP_SETTLE:])
        finite = all(map(math.isfinite, run['losses'])) and \
            all(run['prompts_finite'].values())
        results.append(Result(
            f'amp: {dtype}', amp_passed(run),
            f'loss {run["losses"][0]:.3f} -> {run["losses"][-1]:.3f} over '
            f'{len(run["losses"])} iterations, losses and prompts finite: {finite}; '
            f'prompts moved: '
            f'{sum(run["prompts_moved"].values())}/{len(run["prompts_moved"])}; frozen ViT '
            f'unchanged: {run["vit_unchanged"]}; skipped steps {sum(run["skipped"])} '
            f'({late_skips} after the first {AMP_SETTLE})'))
    return results


# -------------------------------------------------------------------------- bench
def check_bench(device: torch.device, work: Path) -> List[Result]:
    out = work / 'benchmark.json'
    result = run_logged([sys.executable, str(REPO / 'tools' / 'analysis' / 'benchmark.py'),
                   '--device', str(device), '--sections', 'cls', 'infer', 'seg',
                   '--seg-amp', 'on', '--json', str(out)], work / 'benchmark.log', 3600)
    if result.returncode != 0:
        return [Result('bench: tools/analysis/benchmark.py', False,
                       f'exit {result.returncode}, log {work / "benchmark.log"}')]
    print(result.stdout)
    return bench_results(json.loads(out.read_text()))


def bench_results(report: dict) -> List[Result]:
    """One result per target of a benchmark report; a NaN or inf ratio fails."""
    return [Result(f'bench: {t["target"]}', within(t['median_ratio'], t['limit']),
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
                        help='model size of the parity, AMP and DDP-parity checks')
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
                   ddp=lambda: check_ddp(device, work, args.size),
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
