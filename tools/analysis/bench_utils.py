"""Timing and peak-memory measurement for ``benchmark.py``.

Peak memory on CPU: torch's CPU allocator keeps no peak statistic, RSS sampling sees
glibc's caching and the other processes of a shared machine, and counting saved tensors
misses the transient buffers of backward and of the optimizer. The profiler with
``profile_memory=True`` instead records every allocation and free of torch's CPU
allocator as an event of signed size; their running sum in time order is the bytes live
above the level at the start, and its maximum is the step's peak. That is exact for torch
tensors (activations, saved tensors, gradients, optimizer temporaries) and blind only to
memory that a kernel library allocates outside torch (e.g. oneDNN scratch pads). On CUDA,
``torch.cuda.max_memory_allocated`` gives the same quantity directly.

"Extra memory" of a step is therefore: peak bytes allocated during the step above the
level before it, plus the optimizer state that persists between steps. Gradients are set
to None before each step, so they are allocated inside it and counted. The loaded model
itself is not counted (it is the same for every method).
"""
import ctypes
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import torch

#: EXPRES with full visibility and one residual vector per layer and site added to every
#: row (``residual_scope='all'``, docs/method_study.md): a case name of the tables.
EVERY_ROW = 'EXPRES full, every-row residuals'


@dataclass
class Case:
    """One thing to measure.

    Attributes:
        name: row label.
        step: one iteration (a forward, or forward + backward + optimizer step).
        prepare: run before every ``step`` and outside the measurement (zero_grad).
        persistent_bytes: bytes that live between steps and belong to this method
            (optimizer state), added to its peak.
        trainable: trainable parameter count, for the table.
        times: measured seconds per step (filled in by :func:`time_cases`).
        page_faults: minor page faults of the process during each measured step.
        peak_bytes: extra memory (filled in by :func:`measure_memory`).
    """

    name: str
    step: Callable[[], None]
    prepare: Callable[[], None] = lambda: None
    persistent_bytes: Callable[[], int] = lambda: 0
    trainable: Optional[int] = None
    times: List[float] = field(default_factory=list)
    page_faults: List[int] = field(default_factory=list)
    peak_bytes: Optional[int] = None

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def steady_malloc() -> bool:
    """Make glibc keep freed memory in the process instead of returning it to the kernel.

    By default glibc serves large blocks with ``mmap`` and unmaps them on ``free``, with a
    threshold that moves as the process runs, and trims the heap top. Which step's 20 MB
    activations land on fresh pages then depends on what ran before, and the kernel has
    to zero-fill every fresh page: on the development machine 20,000-200,000 minor page
    faults per ViT-B step, enough to move a ratio by 5-10 % either way. Fixing the
    thresholds (the largest mmap threshold, 32 MB; no trimming below 8 GB) lets every case
    reuse warm pages after the warm-up, so the cases are compared on their arithmetic.
    The same effect is what PyTorch's CPU tuning guide gets from jemalloc or tcmalloc.

    Returns:
        Whether the settings were applied (False off glibc).
    """
    try:
        libc = ctypes.CDLL('libc.so.6')
    except OSError:
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    return bool(libc.mallopt(m_mmap_threshold, 32 * 2**20)
                and libc.mallopt(m_trim_threshold, 8 * 2**30)
                and libc.mallopt(m_top_pad, 64 * 2**20))


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_cases(cases: List[Case], device: torch.device, warmup: int, reps: int,
               settle: int = 0) -> None:
    """Median-ready step times, cases interleaved within each repetition.

    Interleaving makes a slow spell of a shared machine hit every case alike, so the
    ratios stay meaningful even when absolute times drift. But a training run repeats one
    method, while here the other cases reshape the heap in between: ``settle`` untimed
    steps of the same case right before each timed one give it back its own steady state
    (on CPU, without them, the case after a different one pays tens of thousands of page
    faults for fresh memory, see :func:`steady_malloc`).
    """
    for rep in range(warmup + reps):
        for case in cases:
            for _ in range(settle if rep >= warmup else 0):
                case.prepare()
                case.step()
            case.prepare()
            synchronize(device)
            faults, start = _minor_faults(), time.perf_counter()
            case.step()
            synchronize(device)
            if rep >= warmup:
                case.times.append(time.perf_counter() - start)
                case.page_faults.append(_minor_faults() - faults)
        print(f'  repetition {rep + 1}/{warmup + reps} done', file=sys.stderr, flush=True)


def _cpu_peak_bytes(fn: Callable[[], None]) -> int:
    """Peak bytes live above the starting level while ``fn`` runs (profiler events)."""
    from torch._C._autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = [e for e in prof.profiler.kineto_results.events()
              if e.name() == '[memory]' and e.device_type() == DeviceType.CPU]
    live = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        live += event.nbytes()
        peak = max(peak, live)
    return peak


def _cuda_peak_bytes(fn: Callable[[], None], device: torch.device) -> int:
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    start = torch.cuda.memory_allocated(device)
    fn()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - start


def measure_memory(cases: List[Case], device: torch.device) -> None:
    """Fill ``peak_bytes`` of each case: one extra, already warmed-up step each."""
    for case in cases:
        case.prepare()
        if device.type == 'cuda':
            peak = _cuda_peak_bytes(case.step, device)
        else:
            peak = _cpu_peak_bytes(case.step)
        case.peak_bytes = peak + case.persistent_bytes()


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of the tensors an optimizer keeps between steps (AdamW: two moments)."""
    return sum(value.numel() * value.element_size()
               for state in optimizer.state.values() for value in state.values()
               if torch.is_tensor(value))


def results_dict(cases: List[Case]) -> Dict[str, Dict[str, Optional[float]]]:
    """name -> {median_s, times_s, page_faults, peak_mb, trainable}, for JSON output."""
    return {case.name: dict(median_s=case.median if case.times else None,
                            times_s=case.times, page_faults=case.page_faults,
                            peak_mb=None if case.peak_bytes is None else case.peak_bytes / 2**20,
                            trainable=case.trainable)
            for case in cases}
