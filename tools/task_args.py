"""``--tasks`` and ``--task-of`` of tools/infer.py and tools/web_demo.py: many task
checkpoints on one frozen ViT (``mmseg_expres.apis.init_multi_task``).

Standard library only: the tools answer argument errors before importing torch.

* ``--tasks NAME=CHECKPOINT ...``: each task checkpoint on the command's CONFIG;
  ``NAME=TASK_CONFIG.py:CHECKPOINT`` for a task trained with another head or class count
  on the same backbone config (ViT, method, prompts).
* ``--task-of INPUT=NAME ...``: that input (file, folder, glob, video) segmented by task
  NAME only (repeat the input for more tasks).

Both options take ``KEY=VALUE`` items; an item without ``=`` after them is an input, so
``--tasks a=A.pth b=B.pth photo.jpg`` reads as it looks.
"""
import os.path as osp
from typing import Callable, List, Sequence, Tuple

TASKS_HELP = ('NAME=CHECKPOINT (or NAME=TASK_CONFIG.py:CHECKPOINT for a task with its own '
              'head or classes) of each task on the one frozen ViT of CONFIG; its outputs go '
              'to OUT_DIR/NAME/')
TASK_OF_HELP = ('INPUT=NAME: segment that input with task NAME only (inputs given '
                'without it go through every task)')
#: (name, checkpoint) or (name, (task config, checkpoint)): init_multi_task's pairs.
TaskPair = Tuple[str, object]


def split_items(items: Sequence[str]) -> Tuple[List[str], List[str]]:
    """(the ``KEY=VALUE`` items, the others): an option's ``nargs='+'`` also takes the
    inputs written after its items."""
    pairs = [item for item in items if '=' in item]
    return pairs, [item for item in items if '=' not in item]


def task_pairs(items: Sequence[str], error: Callable[[str], None]) -> List[TaskPair]:
    """``--tasks``' items as init_multi_task's (name, source) pairs, every file checked.

    A name given twice is left to ``init_multi_task``, which refuses it by name.
    """
    pairs: List[TaskPair] = []
    for item in items:
        name, _, value = item.partition('=')
        config, colon, checkpoint = value.partition(':')
        if not (colon and config.endswith('.py')):
            config, checkpoint = '', value
        if not name or not checkpoint:
            error(f'--tasks {item!r}: give NAME=CHECKPOINT, e.g. ade=work_dirs/ade/iter_8000.pth')
        for what, path in (('task config', config), ('checkpoint', checkpoint)):
            if path and not osp.isfile(path):
                error(f'no {what} file {path} (task {name!r})')
        pairs.append((name, (config, checkpoint) if config else checkpoint))
    return pairs


def task_of(items: Sequence[str], names: Sequence[str],
            error: Callable[[str], None]) -> List[Tuple[str, str]]:
    """``--task-of``'s items as (input, task name); an unknown task is refused with the
    names ``--tasks`` gives."""
    mapping = []
    for item in items:
        path, _, name = item.rpartition('=')
        if not path or not name:
            error(f'--task-of {item!r}: give INPUT=NAME, e.g. street/=city')
        if name not in names:
            error(f'--task-of {item!r}: no task {name!r}; --tasks gives '
                  f'{", ".join(names)}. Name one of them, or add NAME=CHECKPOINT to --tasks.')
        mapping.append((path, name))
    return mapping
