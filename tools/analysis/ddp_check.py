"""The GPU check's ``ddp`` part: gradient averaging across ranks, and the tools' chain.

    python tools/analysis/ddp_check.py --device cpu [--size tiny]

runs the numeric part alone. :func:`check` starts :func:`process_plan` processes with
``torch.distributed.run`` (NCCL, one per GPU where there are two or more; otherwise two
gloo processes on the one GPU or the CPU), once for every case of :data:`METHODS`: each
backbone type and tuning method (EXPRES, VPT, LoRA, AdaptFormer, SSF, bias tuning,
fine-tuning) under a multi-level head as the UperNet configs use it (several
``out_indices``, maps only, no readout, no final norm). Each rank trains ``ITERS`` SGD
steps of every case, wrapped as MMEngine's runner wraps it (``MMDistributedDataParallel``,
``find_unused_parameters=False``), on its equal shard of the same global batches, and
writes its losses and trainable tensors. The check then compares every rank with rank 0
and with one process that trains on the whole batches. A case whose trainable tensors do
not all reach the loss stops at the second iteration ("Expected to have finished
reduction in the prior iteration"), and the check reports it.

The models have no batch-coupled layer (LayerNorm only, no BatchNorm), so the mean of the
ranks' shard losses is the whole batch's loss and averaged shard gradients are its
gradient: the runs differ only by float rounding. The launch also trains a control
(:data:`CONTROL`): the same ranks with DDP's all-reduce replaced by a hook that keeps
each rank's own gradient, as a wrongly synchronised run would. Its row passes only if
the comparison fails it, so the check shows on every machine that it can fail.

:func:`check_ddp` adds the tools' chain: ``tools/dist_train.sh`` on generated data,
``--resume`` to a later iteration, ``tools/test.py`` and ``MMSegInferencer`` on the task
checkpoint. The chain runs one process per GPU (NCCL), or two gloo processes on a CPU:
MMEngine pins rank ``i`` to ``cuda:i``, so it cannot put two ranks on one GPU.
"""
import argparse
import glob
import math
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import nn

from mmseg_expres.utils.numeric import within, worst_of

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / 'configs' / 'demo' / 'expres_vit-demo_upernet_1xb4-300it_ade20k-128x128.py'

#: |rank - reference| <= tolerance * (largest change of a trained tensor in the
#: one-process run), per tensor; the loss likewise relative to the one-process loss.
#: Rounding differs by ~1e-6 of the change; a rank with unaveraged gradients by ~1.
DDP_TOLERANCE = 1e-3
ITERS, GLOBAL_BATCH, NUM_CLASSES, LR = 3, 4, 5, 0.1
SIZES = dict(
    tiny=dict(arch='test_vit', img_size=32,
              vit_cfg=dict(patch_size=8, embed_dim=32, depth=4, num_heads=2)),
    demo=dict(arch='test_vit', img_size=64,
              vit_cfg=dict(patch_size=16, embed_dim=64, depth=4, num_heads=2)))
#: The maps the multi-level head reads: every block of the depth-4 ViTs of SIZES, as
#: UperNet reads blocks (2, 5, 8, 11) of ViT-B.
MAP_LEVELS = (0, 1, 2, 3)
#: Case -> (backbone class, its arguments): every backbone type and tuning method.
METHODS = {
    'EXPRES': ('ExpresViT', dict(num_tokens=3)),
    'VPT-deep': ('VPTViT', dict(num_tokens=3, mode='deep')),
    'LoRA': ('PeftViT', dict(method='lora', lora_rank=2)),
    'AdaptFormer': ('PeftViT', dict(method='adaptformer', adapter_dim=4)),
    'SSF': ('PeftViT', dict(method='ssf')),
    'bias tuning': ('ExpresViT', dict(num_tokens=0, tune_bias=True)),
    'VPT + bias': ('VPTViT', dict(num_tokens=3, tune_bias=True)),
    'fine-tuning': ('ExpresViT', dict(num_tokens=0, frozen=False)),
    # maps of blocks 0-1 only: blocks 2-3 change no output, so their adapters must not train
    'LoRA, maps of blocks 0-1': ('PeftViT', dict(method='lora', lora_rank=2,
                                                 out_indices=(0, 1))),
}


class Result(NamedTuple):
    check: str
    passed: bool
    detail: str


class MultiLevelSegmenter(nn.Module):
    """A backbone of :data:`METHODS` under an UperNet-like head: a 1x1 convolution per map
    level, summed into per-patch logits. No layer couples the samples (no BatchNorm)."""

    def __init__(self, method: str, size: str) -> None:
        super().__init__()
        from mmseg_expres import models
        kind, arguments = METHODS[method]
        arguments = dict(dict(out_indices=MAP_LEVELS), **arguments)
        self.backbone = getattr(models, kind)(**SIZES[size], **arguments)
        self.levels = nn.ModuleList(nn.Conv2d(self.backbone.embed_dim, NUM_CLASSES, 1)
                                    for _ in arguments['out_indices'])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return sum(level(m) for level, m in zip(self.levels, self.backbone(images)))


def process_plan(device: str) -> Tuple[int, str]:
    """(processes, backend): NCCL on two or more GPUs, else two gloo processes."""
    gpus = torch.cuda.device_count() if device.startswith('cuda') else 0
    return (gpus, 'nccl') if gpus >= 2 else (2, 'gloo')


def global_batch(iteration: int, size: str,
                 device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    """The same (images, per-patch labels) for iteration ``iteration`` in every process."""
    side = SIZES[size]['img_size']
    grid = side // SIZES[size]['vit_cfg']['patch_size']
    generator = torch.Generator().manual_seed(100 + iteration)
    images = torch.randn(GLOBAL_BATCH, 3, side, side, generator=generator)
    labels = torch.randint(0, NUM_CLASSES, (GLOBAL_BATCH, grid, grid), generator=generator)
    return images.to(device), labels.to(device)


def build(method: str, size: str, device: torch.device) -> MultiLevelSegmenter:
    torch.manual_seed(0)  # every process starts from the same weights
    return MultiLevelSegmenter(method, size).to(device)


def train(model: nn.Module, size: str, device: torch.device, rank: int = 0,
          world: int = 1) -> List[float]:
    """``ITERS`` SGD steps on shard ``rank`` of ``world`` of each global batch; losses."""
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=LR)
    shard = GLOBAL_BATCH // world
    losses = []
    for iteration in range(ITERS):
        images, labels = global_batch(iteration, size, device)
        part = slice(rank * shard, (rank + 1) * shard)
        loss = nn.functional.cross_entropy(model(images[part]), labels[part])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def trained_tensors(model: nn.Module) -> Dict[str, torch.Tensor]:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters()
            if p.requires_grad}


#: The two runs of a rank: DDP as the runner uses it, and the control (one case is enough
#: to show that the comparison sees unaveraged gradients).
MODES = ('averaged', 'local')
CONTROL = 'EXPRES'


def _local_gradients(state: object, bucket) -> torch.futures.Future[torch.Tensor]:
    """A DDP communication hook that skips the all-reduce (each rank keeps its own)."""
    future = torch.futures.Future()
    future.set_result(bucket.buffer())
    return future


def _file_name(method: str, rank: int, mode: str) -> str:
    return f'{re.sub(r"[^a-z0-9]+", "_", method.lower())}_rank{rank}_{mode}.pt'


def worker(args: argparse.Namespace) -> None:
    """One rank under ``torch.distributed.run``: train its shards of every case, save
    what it got, or the error a case stopped with (every rank stops at the same point,
    so the ranks stay in step for the next case)."""
    import torch.distributed as dist
    from mmengine.model import MMDistributedDataParallel
    rank = int(os.environ['RANK'])
    world, local_rank = int(os.environ['WORLD_SIZE']), int(os.environ['LOCAL_RANK'])
    if args.device == 'cuda':
        device = torch.device('cuda', local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    else:
        device = torch.device('cpu')
    dist.init_process_group(args.backend)
    for method in METHODS:
        for mode in MODES if method == CONTROL else MODES[:1]:
            model = MMDistributedDataParallel(
                module=build(method, args.size, device), broadcast_buffers=False,
                device_ids=[device.index] if device.type == 'cuda' else None)
            if mode == 'local':
                model.register_comm_hook(None, _local_gradients)
            try:
                found = dict(losses=train(model, args.size, device, rank, world),
                             tensors=trained_tensors(model.module))
            except RuntimeError as error:
                found = dict(error=str(error).strip().splitlines()[0])
            torch.save(found, Path(args.out) / _file_name(method, rank, mode))
    dist.destroy_process_group()


def compare(ranks: Sequence[dict], single: dict, initial: Dict[str, torch.Tensor],
            tolerance: float = DDP_TOLERANCE) -> Tuple[bool, str]:
    """Every rank against rank 0 and against the one-process run; losses likewise."""
    stopped = [f'rank {rank}: {found["error"]}' for rank, found in enumerate(ranks)
               if 'error' in found]
    if stopped:
        return (False, f'training stopped ({stopped[0]})')
    _, change = worst_of((n, (single['tensors'][n] - t).abs().max().item())
                         for n, t in initial.items())
    if not (math.isfinite(change) and change > 0):
        return (False, f'the one-process run changed no trained tensor ({change})')
    errors = []
    for rank, found in enumerate(ranks):
        for name, tensor in found['tensors'].items():
            for other, label in ((ranks[0], 'rank 0'), (single, 'one process')):
                diff = (tensor - other['tensors'][name]).abs().max().item() / change
                errors.append((f'rank {rank} vs {label}: {name}', diff))
    for iteration, loss in enumerate(single['losses']):
        mean = sum(r['losses'][iteration] for r in ranks) / len(ranks)
        errors.append((f'loss of iteration {iteration}', abs(mean - loss) / abs(loss)))
    where, worst = worst_of(errors)
    return (within(worst, tolerance),
            f'{len(ranks)} ranks x {ITERS} iterations; max relative difference '
            f'{worst:.1e} ({where}), tolerance {tolerance:.0e}')


def check(device: str, size: str, work: Path,
          tolerance: float = DDP_TOLERANCE) -> List[Result]:
    """Run the ranks of every case (and the control) in one launch, and one process per
    case on ``device``; compare them. One result per case of :data:`METHODS`, then the
    control's."""
    processes, backend = process_plan(device)
    out = Path(tempfile.mkdtemp(prefix='ddp_parity_', dir=work))
    run = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--standalone',
         f'--nproc-per-node={processes}', __file__, '--worker', '--out', str(out),
         '--device', device, '--backend', backend, '--size', size],
        capture_output=True, text=True, timeout=600)
    (out / 'ranks.log').write_text(run.stdout + run.stderr)
    results = []
    reference_device = torch.device('cuda' if device == 'cuda' else 'cpu')
    runs = [(method, 'averaged') for method in METHODS] + [(CONTROL, 'local')]
    for method, mode in runs:
        kind = METHODS[method][0]
        name = (f'ddp: {method} ({kind}, multi-level head), {processes} {backend} '
                f'processes = one process' if mode == 'averaged' else
                f'ddp: control, {method} with the all-reduce skipped, differs (must fail)')
        if run.returncode != 0:
            results.append(Result(name, False, f'exit {run.returncode}, log {out / "ranks.log"}'))
            continue
        model = build(method, size, reference_device)
        initial = trained_tensors(model)
        single = dict(losses=train(model, size, reference_device),
                      tensors=trained_tensors(model))
        same, detail = compare([torch.load(out / _file_name(method, r, mode), weights_only=True)
                                for r in range(processes)], single, initial, tolerance)
        results.append(Result(name, same == (mode == 'averaged'), f'on {device}: {detail}'))
    return results


# ------------------------------------------------------------------ the tools' chain
def run_logged(cmd: Sequence[str], log: Path,
               timeout: int = 900) -> subprocess.CompletedProcess:
    """Run ``cmd`` in the repository, its output to ``log``."""
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
    path = work / 'ddp_chain_config.py'
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


def check_ddp(device: torch.device, work: Path, size: str = 'demo') -> List[Result]:
    """The parity of :func:`check`, then the tools' chain (see the module's docstring)."""
    results = check(device.type, size, work)
    gpus = torch.cuda.device_count() if device.type == 'cuda' else 2
    backend = 'nccl' if device.type == 'cuda' else 'gloo'
    cfg = _ddp_config(work)
    run_dir = work / 'ddp'
    dist_train = ['bash', str(REPO / 'tools' / 'dist_train.sh'), str(cfg), str(gpus),
                  '--work-dir', str(run_dir)]
    first = run_logged(dist_train + ['--cfg-options', 'train_cfg.max_iters=2'],
                 work / 'train.log')
    ok = first.returncode == 0 and (run_dir / 'iter_2.pth').is_file()
    results.append(Result(f'ddp: dist_train.sh, {gpus} process(es), {backend}', ok,
                          f'exit {first.returncode}, log {work / "train.log"}'))
    if not ok:
        return results
    resumed = run_logged(dist_train + ['--resume'], work / 'resume.log')
    ok = resumed.returncode == 0 and 'resumed epoch: 0, iter: 2' in \
        resumed.stdout + resumed.stderr and (run_dir / 'iter_4.pth').is_file()
    results.append(Result('ddp: --resume from iteration 2 to 4', ok,
                          f'exit {resumed.returncode}, log {work / "resume.log"}'))
    checkpoint = run_dir / 'iter_4.pth'
    if not ok:
        return results
    tested = run_logged([sys.executable, str(REPO / 'tools' / 'test.py'), str(cfg),
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--size', choices=sorted(SIZES), default='demo')
    parser.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--backend', help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    results = check(args.device, args.size, Path(tempfile.mkdtemp()))
    for result in results:
        print(f'{result.check}: {"pass" if result.passed else "FAIL"}: {result.detail}')
    return 0 if all(result.passed for result in results) else 1


if __name__ == '__main__':
    sys.exit(main())
