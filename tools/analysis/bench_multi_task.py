"""Mixed-task batches for ``benchmark.py``: one frozen ViT serving many tasks.

Throughput (no grad, EXPRES in full visibility with maps and tokens, as segmentation
reads it): a batch of B images spread over T distinct tasks in one pass
(``models.multi_task_batch.mixed_task_forward``: each sample's tokens and residuals
gathered from its task) for T = 1, 2, 4, 8, B, against (a) one task for the whole batch
(the backbone's own forward) and (b) T task models run in turn, each on its own samples
(the compute of T separately loaded models). LoRA's mixed batch (r=8 on qkv, one adapter
per task, through ``peft``'s ``adapter_names=``, whose docs warn that "the batch size is
effectively reduced to the number of samples per adapter") is measured beside it, against
one LoRA adapter for the whole batch.

Memory: bytes held by N loaded EXPRES tasks on one ViT (``frozen_vit.sharing_vit``,
distinct storages counted once) against N models with a ViT each, N = 1, 10, 50, and
the bytes of one task's checkpoint tensors (``TaskCheckpointHook``'s ``strip_frozen``).
The ViT's weights are random (timing only).
"""
from typing import Callable, Dict, List, Sequence, Tuple

import torch
from torch import Tensor, nn

from bench_cases import no_grad, vit_kwargs
from bench_utils import Case

from mmseg_expres.engine.task_checkpoint_hook import strip_frozen
from mmseg_expres.models import ExpresViT
from mmseg_expres.models.backbones.frozen_vit import sharing_vit
from mmseg_expres.models.multi_task_batch import mixed_task_forward

ONE_TASK = 'EXPRES, one task per batch'
LORA_ONE = 'LoRA (peft), one adapter per batch'
MEMORY_COUNTS = (1, 10, 50)


def task_counts(batch: int) -> List[int]:
    """T = 1, 2, 4, 8 and B, those up to B."""
    return sorted({t for t in (1, 2, 4, 8, batch) if t <= batch})


def expres_tasks(count: int, num_tokens: int, common: dict,
                 device: torch.device) -> List[ExpresViT]:
    """``count`` EXPRES backbones on one ViT, each with its own random prompts."""
    first = ExpresViT(num_tokens=num_tokens, visibility='full', output_tokens=True,
                      **common)
    backbones = [first]
    with sharing_vit(first.vit):
        backbones += [ExpresViT(num_tokens=num_tokens, visibility='full',
                                output_tokens=True, **common) for _ in range(count - 1)]
    for backbone in backbones:
        with torch.no_grad():
            for residual in backbone.prompts.residuals.values():
                residual.normal_(0, 0.02)
    return [b.to(device).eval() for b in backbones]


def spread(batch: int, tasks: int, device: torch.device) -> Tensor:
    """(B,) task index of each sample: the tasks in turn."""
    return (torch.arange(batch) % tasks).to(device)


def in_turn(backbones: Sequence[nn.Module], sample_task: Tensor,
            images: Tensor) -> Callable[[], None]:
    """Each task's model on its own samples, one after the other."""
    groups = [(backbones[t], (sample_task == t).nonzero()[:, 0])
              for t in sorted(set(sample_task.tolist()))]
    return no_grad(lambda: [model(images[rows]) for model, rows in groups])


def lora_model(tasks: int, common: dict, device: torch.device) -> nn.Module:
    """A timm ViT with ``tasks`` LoRA adapters (r=8 on qkv, random B) through peft."""
    from peft import LoraConfig, get_peft_model

    from mmseg_expres.models.backbones import create_timm_vit
    vit = create_timm_vit(common['arch'], common['img_size'], common.get('vit_cfg'))
    config = LoraConfig(r=8, lora_alpha=8, target_modules=['qkv'], init_lora_weights=False)
    model = get_peft_model(vit, config, adapter_name='task0')
    for index in range(1, tasks):
        model.add_adapter(f'task{index}', config)
    return model.to(device).eval()


def multi_task_cases(quick: bool, images: Tensor,
                     num_tokens: int) -> Tuple[List[Case], List[Tuple[str, str, str, float]]]:
    """The throughput cases, and (target, case, reference, limit on the time ratio)."""
    device, batch = images.device, images.shape[0]
    common = dict(vit_kwargs(quick, images.shape[-1]), out_indices=(1, 3) if quick
                  else (3, 5, 7, 11))
    counts = task_counts(batch)
    backbones = expres_tasks(max(counts), num_tokens, common, device)
    cases = [Case(ONE_TASK, no_grad(lambda: backbones[0](images)))]
    for tasks in counts:
        sample_task = spread(batch, tasks, device)
        cases.append(Case(f'EXPRES, {tasks} tasks in one batch', no_grad(
            lambda s=sample_task, t=tasks: mixed_task_forward(backbones[:t], s, images))))
    for tasks in counts[1:]:
        cases.append(Case(f'EXPRES, {tasks} task models in turn',
                          in_turn(backbones, spread(batch, tasks, device), images)))
    lora = lora_model(batch, common, device)
    names = [f'task{t}' for t in spread(batch, batch, torch.device('cpu')).tolist()]
    cases.append(Case(LORA_ONE, no_grad(lambda: lora(images, adapter_names=['task0'] * batch))))
    cases.append(Case(f'LoRA (peft), {batch} adapters in one batch',
                      no_grad(lambda: lora(images, adapter_names=names))))
    targets = [(f'EXPRES: batch of {batch} over {batch} tasks / one task per batch (time)',
                f'EXPRES, {batch} tasks in one batch', ONE_TASK, 1 / 0.9)]
    return cases, targets


def storage_bytes(modules: Sequence[nn.Module]) -> int:
    """Bytes of the distinct tensors (parameters and buffers) that ``modules`` hold."""
    seen: Dict[int, int] = {}
    for module in modules:
        for tensor in list(module.parameters()) + list(module.buffers()):
            seen[tensor.data_ptr()] = tensor.numel() * tensor.element_size()
    return sum(seen.values())


def memory_rows(quick: bool, img_size: int, num_tokens: int) -> List[Dict[str, float]]:
    """Per N: MB held by N tasks on one ViT, by N models, and one task checkpoint's."""
    common = dict(vit_kwargs(quick, img_size), out_indices=(1, 3) if quick else (3, 5, 7, 11))
    backbones = expres_tasks(max(MEMORY_COUNTS), num_tokens, common, torch.device('cpu'))
    one_model = storage_bytes(backbones[:1])
    task = sum(t.numel() * t.element_size()
               for t in strip_frozen(backbones[0].state_dict(), backbones[0]).values())
    return [dict(tasks=n, shared_mb=storage_bytes(backbones[:n]) / 2**20,
                 models_mb=n * one_model / 2**20, task_checkpoint_mb=task / 2**20)
            for n in MEMORY_COUNTS]


def memory_table(rows: List[Dict[str, float]]) -> str:
    lines = ['### Memory of N loaded EXPRES tasks', '',
             '| N tasks | one ViT, N tasks MB | N models MB | ratio | one task checkpoint MB |'
             ' extra MB per task |', '|---|---|---|---|---|---|']
    first = rows[0]
    for row in rows:
        extra = '-' if row['tasks'] == 1 else \
            f"{(row['shared_mb'] - first['shared_mb']) / (row['tasks'] - 1):.3f}"
        lines.append(f"| {row['tasks']} | {row['shared_mb']:.1f} | {row['models_mb']:.1f} | "
                     f"{row['shared_mb'] / row['models_mb']:.3f} | "
                     f"{row['task_checkpoint_mb']:.3f} | {extra} |")
    return '\n'.join(lines)


def memory_target(rows: List[Dict[str, float]]) -> Tuple[str, float, None, float]:
    """Extra bytes per loaded task / the task checkpoint's bytes (limit 1: no second ViT)."""
    first, last = rows[0], rows[-1]
    per_task = (last['shared_mb'] - first['shared_mb']) / (last['tasks'] - 1)
    return ('EXPRES: memory of each extra loaded task / its task checkpoint tensors',
            per_task / first['task_checkpoint_mb'], None, 1.0)
