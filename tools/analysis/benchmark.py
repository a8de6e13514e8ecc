"""Speed and memory of EXPRES against its baselines, in one process on the same inputs.

    python tools/analysis/benchmark.py [--quick] [--sections cls infer seg] [--json OUT]

Sections:

* ``cls``: one classification training step (forward, backward, AdamW) of EXPRES
  one-way (``out_indices=()``, ``readout='mean'``, linear head), EXPRES full, VPT-deep,
  linear probing, full fine-tuning and the PEFT baselines (LoRA, AdaptFormer, SSF, as
  ``configs/_base_/baselines.py`` sets them), and the floor: the frozen ViT forward under
  ``no_grad``. Each as a ratio to the floor and to fine-tuning, in time and extra memory.
* ``infer``: no-grad forwards of the plain ViT, EXPRES (K tokens), ``MultiTaskExpres``
  answering T tasks for one batch, and the PEFT baselines, LoRA and SSF also merged into
  the ViT (``tools/export_full_checkpoint.py --merge``).
* ``setr``: the same cases on mmseg's ViT-L/16 SETR-PUP ADE20K model (VPT's ADE20K
  protocol), opt-in.
* ``--arch``: the timm ViT of ``cls`` and ``infer`` (e.g. ``vit_base_patch14_dinov2``).
* ``fewshot_seg``: episodes/s and extra memory of EXPRES, the frozen ViT (head only),
  VPT-deep and fine-tuning with the prototype-matching head of the PASCAL-5i configs:
  test episodes of each ``--fewshot-shots`` and a meta-training step; and for each shot
  ``--fewshot-queries`` queries of one class segmented with the supports re-encoded per
  query (whole episodes) against encoded once (``bench_fewshot_seg``), opt-in;
  ``--fewshot-parts`` picks either.
* ``seg_check``: masks/s of the segmentation data check (``tools/check_seg_data.py`` and
  the check ``tools/train.py`` runs first) on ``--check-masks`` generated 512x512 pairs
  with ``--check-nproc`` processes (``bench_seg_check``), opt-in.
* ``infer_tool``: images/s of ``tools/infer.py``'s code path (decode, predict, write
  the PNGs) against a bare ``inference_model`` loop on the demo model (``bench_infer``),
  opt-in.
* ``tool_start``: seconds from ``python tools/<tool>.py --help`` (and from an argument
  error) to its answer, in fresh processes, beside the import the work needs
  (``bench_tool_start``; target: ``--help`` under 1 s), opt-in.
* ``deploy``: onnxruntime (CPU) against PyTorch on the demo model exported to ONNX
  (``tools/deploy/export_onnx.py``), fp32 and dynamic int8, with their mIoU and pixel
  agreement on the demo validation set (``bench_deploy``; ``--deploy-checkpoint``),
  opt-in.
* ``multi_task``: images/s of a batch of B images spread over T tasks on one frozen ViT
  (EXPRES, full visibility; T = 1, 2, 4, 8, B) against one task per batch and against T
  task models in turn; LoRA's mixed batch through ``peft``'s ``adapter_names=`` beside
  it; memory of N = 1, 10, 50 loaded tasks against N models (``bench_multi_task``),
  opt-in.
* ``seg``: UperNet (mmseg's MultiLevelNeck + UPerHead + FCN auxiliary head, as in
  ``mmseg::_base_/models/upernet_vit-b16_ln_mln.py``) training steps of mmseg's own ViT
  fine-tuned against ExpresViT in full visibility, in fp32 and AMP (fp16 with loss
  scaling on CUDA, bf16 on the CPU, as ``--amp`` trains), and EXPRES full with
  activation checkpointing (no one-way: the maps UperNet reads never see one-way
  prompts, and ExpresViT refuses it; ``cls`` times the one-way step). On CUDA it checks
  the GPU targets (EXPRES full at most 0.75x fine-tuning's step time and 0.5x its
  memory, with AMP).

Times are medians over ``--reps`` repetitions after ``--warmup`` discarded ones, with the
cases of a section interleaved in every repetition and ``--settle`` untimed steps of a
case before each timed one (see ``bench_utils.time_cases``); the
"page faults" column is the median count of minor page faults per step. By default glibc
is told to keep freed memory (``--malloc steady``, see ``bench_utils.steady_malloc``).
Memory is the extra memory of one step over the loaded model; how it is measured on CPU
(profiler allocation events) and CUDA (``max_memory_allocated``) is explained in
``bench_utils``. Runs on CUDA when present, else CPU (``--device`` overrides).
``--quick`` uses the test suite's tiny ViT so CI can run the tool in seconds.
"""
import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from bench_utils import (EVERY_ROW, Case, measure_memory, results_dict, steady_malloc,
                         time_cases)
from mmseg_expres.utils.numeric import within

FLOOR, FINE_TUNING, PLAIN = 'frozen forward, no grad (floor)', 'full fine-tuning', \
    'plain ViT forward'
SEG_REFERENCE = 'mmseg ViT fine-tuning'
MERGED = ('LoRA (r=8, qkv), merged', 'SSF, merged')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='tiny ViT, tiny inputs, 1 warm-up + 2 reps (CI smoke run)')
    parser.add_argument('--arch', default='vit_base_patch16_224',
                        help='timm ViT of the cls and infer sections, e.g. '
                        'vit_base_patch14_dinov2 or vit_large_patch16_224')
    parser.add_argument('--sections', nargs='+', default=['cls', 'infer', 'seg'],
                        # setr (ViT-L/16 at 512 px) is opt-in: on a CPU its fine-tuning
                        # step takes minutes
                        choices=['cls', 'infer', 'seg', 'setr', 'fewshot_seg', 'seg_check',
                                 'infer_tool', 'deploy', 'tool_start', 'multi_task'])
    parser.add_argument('--device', default=None, help='default: cuda if present, else cpu')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument('--seg-batch-size', type=int, default=2,
                        help='>= 2: UPerHead has BN after a 1x1 pooling')
    parser.add_argument('--seg-img-size', type=int, default=512)
    parser.add_argument('--fewshot-img-size', type=int, default=480,
                        help='crop of the few-shot segmentation configs')
    parser.add_argument('--fewshot-batch-size', type=int, default=8,
                        help='episodes per meta-training step (the configs: 8)')
    parser.add_argument('--fewshot-shots', type=int, nargs='+', default=[1, 5])
    parser.add_argument('--fewshot-queries', type=int, default=8,
                        help='queries of one class in the support-encoding cases')
    parser.add_argument('--fewshot-parts', nargs='+', default=['episodes', 'supports'],
                        choices=['episodes', 'supports'],
                        help='episodes: test episodes and a meta-training step per method; '
                        'supports: EXPRES, supports re-encoded per query vs encoded once')
    parser.add_argument('--check-masks', type=int, default=2000, help='seg_check pairs')
    parser.add_argument('--check-nproc', type=int, default=2, help='seg_check processes')
    parser.add_argument('--num-tokens', type=int, default=5, help='EXPRES K')
    parser.add_argument('--vpt-tokens', type=int, default=50, help='VPT-deep K')
    parser.add_argument('--num-tasks', type=int, default=10)
    parser.add_argument('--num-classes', type=int, default=100)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--seg-reps', type=int, default=3)
    parser.add_argument('--threads', type=int, default=None, help='torch.set_num_threads')
    parser.add_argument('--seg-amp', choices=['auto', 'on', 'off'], default='auto',
                        help='the bf16 autocast case; auto: only where bf16 is native '
                        '(CUDA, or a CPU with AVX512-BF16/AMX) or with --quick')
    parser.add_argument('--malloc', choices=['steady', 'default'], default='steady',
                        help="steady: glibc keeps freed memory (bench_utils.steady_malloc); "
                        "default: glibc's own thresholds")
    parser.add_argument('--settle', type=int, default=None,
                        help='untimed steps of a case before each timed one (default: 1 on '
                        'CPU, 0 on CUDA; see bench_utils.time_cases)')
    parser.add_argument('--deploy-checkpoint', default=None,
                        help="deploy: the demo config's checkpoint (default: "
                        "work_dirs/demo's, if tools/run_demo.sh ran; else random weights)")
    parser.add_argument('--no-memory', action='store_true', help='skip memory measurement')
    parser.add_argument('--json', default=None, help='also write the results here')
    args = parser.parse_args(argv)
    if args.fewshot_queries < 1:
        parser.error(f'--fewshot-queries must be >= 1, got {args.fewshot_queries}')
    if args.quick:
        args.img_size, args.seg_img_size, args.fewshot_img_size = 32, 32, 32
        args.batch_size, args.seg_batch_size, args.fewshot_batch_size = 2, 2, 2
        args.warmup, args.reps, args.seg_reps = 1, 2, 2
        args.vpt_tokens = min(args.vpt_tokens, 4)
    return args


def _ratio(value: Optional[float], reference: Optional[float]) -> str:
    return '-' if value is None or not reference else f'{value / reference:.2f}x'


def _mb(num_bytes: Optional[int]) -> str:
    return '-' if num_bytes is None else f'{num_bytes / 2**20:.1f}'


def table(title: str, cases: List[Case], references: Sequence[Tuple[str, str]],
          batch: int, unit: str = 'images') -> str:
    """Markdown table: median time, ``unit``/s and extra memory, as ratios to references."""
    by_name = {case.name: case for case in cases}
    header = ['method', 'trainable', 'median ms', f'{unit}/s']
    for label, _ in references:
        header.append(f'time / {label}')
    header.append('page faults')
    header.append('extra MB')
    for label, _ in references:
        header.append(f'memory / {label}')
    lines = [f'### {title}', '', '| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    for case in cases:
        row = [case.name, '-' if case.trainable is None else f'{case.trainable:,}',
               f'{1000 * case.median:.1f}', f'{batch / case.median:.1f}']
        row += [_ratio(case.median, by_name[ref].median) for _, ref in references]
        row.append(f'{statistics.median(case.page_faults):,.0f}' if case.page_faults else '-')
        row.append(_mb(case.peak_bytes))
        row += [_ratio(case.peak_bytes, by_name[ref].peak_bytes) for _, ref in references]
        lines.append('| ' + ' | '.join(row) + ' |')
    return '\n'.join(lines)


Target = Tuple[str, float, Optional[float], float]


def targets(sections: Dict[str, List[Case]], num_tokens: int, num_tasks: int,
            device: torch.device) -> List[Target]:
    """(description, median ratio, best-run ratio, limit) of the issue's targets.

    The UperNet targets are GPU targets (AMP), checked when the run is on CUDA.

    The best-run ratio (fastest repetition of each case) is the one least disturbed by
    other processes on a shared machine: contention only ever adds time.
    """
    found: List[Target] = []

    def timed(name: str, case: Case, reference: Case, limit: float) -> None:
        found.append((name, case.median / reference.median,
                      min(case.times) / min(reference.times), limit))

    cls = {case.name: case for case in sections.get('cls', [])}
    if cls:
        one_way, full, tuned = cls['EXPRES one-way'], cls['EXPRES full'], cls[FINE_TUNING]
        timed('EXPRES one-way step / frozen forward', one_way, cls[FLOOR], 1.10)
        if one_way.peak_bytes is not None:
            found.append(('EXPRES one-way extra memory / fine-tuning extra memory',
                          one_way.peak_bytes / tuned.peak_bytes, None, 0.20))
        timed('EXPRES full step / fine-tuning step', full, tuned, 0.70)
        # full visibility with every-row residuals: the transfer study's other reading
        every_row = cls[EVERY_ROW]
        timed(f'{EVERY_ROW} step / fine-tuning step', every_row, tuned, 0.70)
        if every_row.peak_bytes is not None:
            found.append((f'{EVERY_ROW} extra memory / fine-tuning extra memory',
                          every_row.peak_bytes / tuned.peak_bytes, None, 0.45))
    infer = {case.name: case for case in sections.get('infer', [])}
    if infer:
        for mode in ('one-way', 'full', EVERY_ROW[len('EXPRES '):]):
            timed(f'EXPRES {mode} inference, K={num_tokens} / plain ViT forward',
                  infer[f'EXPRES {mode}, K={num_tokens}'], infer[PLAIN], 1.05)
        timed(f'{num_tasks} tasks, one batch / plain ViT forward',
              infer[f'{num_tasks} tasks, one-way (MultiTaskExpres)'], infer[PLAIN], 1.30)
        for name in MERGED:  # a merged export runs at plain-ViT cost
            timed(f'{name} inference / plain ViT forward', infer[name], infer[PLAIN], 1.05)
    seg = {case.name: case for case in sections.get('seg', [])}
    if device.type == 'cuda' and 'EXPRES full + AMP' in seg:
        full, tuned = seg['EXPRES full + AMP'], seg[f'{SEG_REFERENCE} + AMP']
        timed('UperNet AMP: EXPRES full step / fine-tuning step', full, tuned, 0.75)
        if full.peak_bytes is not None:
            found.append(('UperNet AMP: EXPRES full memory / fine-tuning memory',
                          full.peak_bytes / tuned.peak_bytes, None, 0.50))
    return found


def targets_table(checked: List[Target]) -> str:
    """Markdown table of the targets; a NaN or inf ratio is not met."""
    lines = ['### Targets', '',
             '| target | median | best run | limit | met (median) |', '|---|---|---|---|---|']
    for name, value, best, limit in checked:
        best_text = '-' if best is None else f'{best:.2f}'
        lines.append(f'| {name} | {value:.2f} | {best_text} | {limit:.2f} | '
                     f'{"yes" if within(value, limit) else "NO"} |')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, object]:
    args = parse_args(argv)
    malloc = 'glibc defaults'
    if args.malloc == 'steady':
        malloc = 'steady malloc' if steady_malloc() else 'malloc defaults (not glibc)'
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    if args.settle is None:
        args.settle = 1 if device.type == 'cpu' else 0
    import bench_cases  # imports mmseg, after the thread setting

    generator = torch.Generator().manual_seed(0)
    images = torch.randn(args.batch_size, 3, args.img_size, args.img_size,
                         generator=generator).to(device)
    labels = torch.randint(0, args.num_classes, (args.batch_size,),
                           generator=generator).to(device)
    sections: Dict[str, List[Case]] = {}
    tables: List[str] = []
    if 'cls' in args.sections:
        cases = bench_cases.classification_cases(args.quick, images, labels,
                                                 args.num_classes, args.num_tokens,
                                                 args.vpt_tokens, args.arch)
        sections['cls'] = cases
        _measure(cases, device, args.warmup, args.reps, args.settle, args.no_memory)
        tables.append(table(f'Training step, {args.img_size}px, batch {args.batch_size}',
                            cases, [('floor', FLOOR), ('fine-tuning', FINE_TUNING)],
                            args.batch_size))
    if 'infer' in args.sections:
        cases = bench_cases.inference_cases(args.quick, images, args.num_classes,
                                            args.num_tokens, args.num_tasks, args.arch)
        sections['infer'] = cases
        _measure(cases, device, args.warmup, args.reps, args.settle, args.no_memory)
        tables.append(table(f'Inference, {args.img_size}px, batch {args.batch_size}',
                            cases, [('plain ViT', PLAIN)], args.batch_size))
    seg_sections = [(name, model, title) for name, model, title in (
        ('seg', 'upernet', 'UperNet (mmseg ViT-B/16)'),
        ('setr', 'setr', "SETR-PUP (mmseg ViT-L/16, VPT's ADE20K protocol)"))
        if name in args.sections]
    if seg_sections:
        seg_images = torch.randn(args.seg_batch_size, 3, args.seg_img_size,
                                 args.seg_img_size, generator=generator).to(device)
        amp = args.seg_amp == 'on' or (args.seg_amp == 'auto' and (
            args.quick or bench_cases.bf16_is_fast(device)))
        if not amp:
            print('AMP cases left out: this device emulates bf16 '
                  '(--seg-amp on forces them)', file=sys.stderr)
    for name, model, title in seg_sections:
        cases = bench_cases.segmentation_cases(args.quick, seg_images, args.num_tokens, amp,
                                               model)
        sections[name] = cases
        _measure(cases, device, min(args.warmup, 1), args.seg_reps, 0, args.no_memory)
        tables.append(table(f'{title} training step, {args.seg_img_size}px, batch '
                            f'{args.seg_batch_size}', cases,
                            [('mmseg fine-tuning', SEG_REFERENCE)], args.seg_batch_size))

    if 'fewshot_seg' in args.sections:
        _fewshot_seg_section(args, device, sections, tables)

    seg_check = None
    if 'seg_check' in args.sections:
        import bench_seg_check
        seg_check = bench_seg_check.run(40 if args.quick else args.check_masks,
                                        64 if args.quick else 512, args.check_nproc)
        tables.append(bench_seg_check.table(seg_check))

    if 'infer_tool' in args.sections:
        import bench_infer
        cases, images = bench_infer.infer_tool_cases(args.quick, device)
        sections['infer_tool'] = cases
        _measure(cases, device, min(args.warmup, 1), args.seg_reps, 0, no_memory=True)
        tables.append(table(f'Inference command on the demo model, {images} images',
                            cases, [('bare loop', bench_infer.BARE)], images)
                      + bench_infer.overhead_line(cases))

    deploy = _deploy_section(args, sections, tables) if 'deploy' in args.sections else None

    tool_start = None
    if 'tool_start' in args.sections:
        import bench_tool_start
        tool_start = bench_tool_start.run(2 if args.quick else args.reps,
                                          ['infer.py'] if args.quick else None)
        tables.append(bench_tool_start.table(tool_start))

    if 'multi_task' in args.sections:
        checked_multi = _multi_task_section(args, images, sections, tables)
    checked = targets(sections, args.num_tokens, args.num_tasks, device)
    if 'multi_task' in args.sections:
        checked += checked_multi
    if checked:
        tables.append(targets_table(checked))
    gpu = f' ({torch.cuda.get_device_name(device)})' if device.type == 'cuda' else ''
    machine = (f'{platform.machine()} {platform.processor() or ""}, device {device}{gpu}, '
               f'{torch.get_num_threads()} threads, torch {torch.__version__}, '
               f'{os.cpu_count()} CPUs, {malloc}')
    print(f'Machine: {machine}\n')
    print('\n\n'.join(tables))
    result = dict(machine=machine, args=vars(args),
                  sections={name: results_dict(cases) for name, cases in sections.items()},
                  targets=[dict(target=n, median_ratio=v, best_ratio=b, limit=lim)
                           for n, v, b, lim in checked], seg_check=seg_check,
                  deploy=deploy, tool_start=tool_start)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


def _fewshot_seg_section(args: argparse.Namespace, device: torch.device,
                         sections: Dict[str, List[Case]], tables: List[str]) -> None:
    import bench_fewshot_seg
    size, queries = args.fewshot_img_size, args.fewshot_queries
    # (section key, cases, table title, reference, batch, unit, what follows the table
    # once the cases are measured)
    parts = []
    if 'episodes' in args.fewshot_parts:
        for kind, cases in bench_fewshot_seg.fewshot_seg_cases(
                args.quick, size, args.fewshot_batch_size, args.fewshot_shots,
                device).items():
            batch = args.fewshot_batch_size if kind.startswith('meta') else 1
            parts.append((f'fewshot_seg {kind}', cases,
                          f'Few-shot segmentation (PASCAL-5i configs), {kind}, {size}px',
                          ('frozen', bench_fewshot_seg.FROZEN), batch, 'episodes',
                          lambda: ''))
    if 'supports' in args.fewshot_parts:
        for kind, cases in bench_fewshot_seg.support_encoding_cases(
                args.quick, size, queries, args.fewshot_shots, device).items():
            parts.append((f'fewshot_seg supports {kind}', cases,
                          f'Few-shot segmentation, EXPRES, {kind}, {size}px',
                          ('re-encoded', bench_fewshot_seg.REENCODED), queries, 'queries',
                          lambda c=cases: bench_fewshot_seg.per_query_line(c, queries)))
    for key, cases, title, reference, batch, unit, after in parts:
        sections[key] = cases
        _measure(cases, device, min(args.warmup, 1), args.seg_reps, args.settle,
                 args.no_memory)
        tables.append(table(title, cases, [reference], batch, unit=unit) + after())


def _multi_task_section(args: argparse.Namespace, images: torch.Tensor,
                        sections: Dict[str, List[Case]], tables: List[str]) -> List[Target]:
    """Mixed-task batches and the memory of many loaded tasks (``bench_multi_task``)."""
    import bench_multi_task
    cases, wanted = bench_multi_task.multi_task_cases(args.quick, images, args.num_tokens)
    sections['multi_task'] = cases
    _measure(cases, images.device, min(args.warmup, 1), args.reps, args.settle,
             no_memory=True)
    tables.append(table(f'Mixed-task batches, {args.img_size}px, batch {images.shape[0]}',
                        cases, [('one task', bench_multi_task.ONE_TASK),
                                ('one LoRA adapter', bench_multi_task.LORA_ONE)],
                        images.shape[0]))
    by_name = {case.name: case for case in cases}
    checked = [(name, by_name[case].median / by_name[ref].median,
                min(by_name[case].times) / min(by_name[ref].times), limit)
               for name, case, ref, limit in wanted]
    rows = bench_multi_task.memory_rows(args.quick, args.img_size, args.num_tokens)
    tables.append(bench_multi_task.memory_table(rows))
    return checked + [bench_multi_task.memory_target(rows)]


def _measure(cases: List[Case], device: torch.device, warmup: int, reps: int,
             settle: int, no_memory: bool) -> None:
    time_cases(cases, device, warmup, reps, settle)
    if not no_memory:
        measure_memory(cases, device)


def _deploy_section(args: argparse.Namespace, sections: Dict[str, List[Case]],
                    tables: List[str]) -> Dict[str, object]:
    """onnxruntime against PyTorch, on the CPU whatever ``--device`` (``bench_deploy``)."""
    import bench_deploy
    cases, summary = bench_deploy.deploy_cases(
        args.quick, args.deploy_checkpoint or bench_deploy.demo_checkpoint())
    sections['deploy'] = cases
    _measure(cases, torch.device('cpu'), min(args.warmup, 1), args.seg_reps, args.settle,
             no_memory=True)
    shape = summary['shape']
    tables.append(table(f'ONNX deployment on the CPU, demo model, {shape[0]}x{shape[1]}',
                        cases, [('PyTorch', bench_deploy.PYTORCH)], 1)
                  + '\n' + bench_deploy.accuracy_table(summary))
    return summary


if __name__ == '__main__':
    main()
