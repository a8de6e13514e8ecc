"""How long the command-line tools take to answer before any work, for ``benchmark.py``
(section ``tool_start``).

Each tool is started as a user starts it (``python tools/<tool>.py``, a new process) for
``--help`` and for an argument error (a config that does not exist), ``reps`` times;
the median wall time is reported beside that of importing what the work needs
(``import mmseg_expres.apis``: torch, mmengine, mmseg), which the tools defer until the
arguments are parsed. Target: ``--help`` in under a second.
"""
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Dict, List

TOOLS_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: the tools whose start is measured, and arguments that are wrong before any import
TOOLS = {'infer.py': ['missing.py', 'missing.pth', 'x.jpg', '--out-dir', 'out'],
         'check_seg_data.py': ['missing.py'],
         'export_full_checkpoint.py': ['missing.py', 'missing.pth', 'out.pth'],
         'train.py': ['missing.py'],
         'test.py': ['missing.py', 'missing.pth']}
IMPORT = 'import mmseg_expres.apis'
HELP_LIMIT_S = 1.0


def _seconds(args: List[str], reps: int) -> float:
    """Median wall time of ``python args`` (a fresh process each time)."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(reps: int, tools: List[str] = None) -> Dict[str, object]:
    """Median seconds per tool for ``--help`` and an argument error, and of the import."""
    found = {}
    for name in tools or list(TOOLS):
        script = osp.join(TOOLS_DIR, name)
        found[name] = {'help_s': _seconds([script, '--help'], reps),
                       'argument_error_s': _seconds([script, *TOOLS[name]], reps)}
    return {'tools': found, 'import_s': _seconds(['-c', IMPORT], reps), 'reps': reps,
            'help_limit_s': HELP_LIMIT_S}


def table(result: Dict[str, object]) -> str:
    lines = [f'Tool start, median of {result["reps"]} fresh processes (`{IMPORT}` alone: '
             f'{result["import_s"]:.2f} s)', '',
             '| tool | --help (s) | argument error (s) | --help under '
             f'{result["help_limit_s"]:.0f} s |', '|---|---|---|---|']
    for name, times in result['tools'].items():
        verdict = 'yes' if times['help_s'] < result['help_limit_s'] else 'NO'
        lines.append(f'| tools/{name} | {times["help_s"]:.2f} | '
                     f'{times["argument_error_s"]:.2f} | {verdict} |')
    return '\n'.join(lines)
