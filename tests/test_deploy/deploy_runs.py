"""Helpers of the deployment tests: the export tool in-process, the runner without torch."""
import os
import subprocess
import sys
from pathlib import Path
from typing import List

import numpy as np
import onnxruntime as ort

from ..test_tools.seg_runs import REPO

EXPORT = REPO / 'tools' / 'deploy' / 'export_onnx.py'
INFER_ONNX = REPO / 'tools' / 'deploy' / 'infer_onnx.py'
#: Runs a script with torch, mmcv, mmengine and mmseg unimportable (``import torch``
#: raises ImportError), as on a machine that has only the deployment runtime.
NO_TORCH = ('import runpy, sys\n'
            "for name in ('torch', 'torchvision', 'mmcv', 'mmengine', 'mmseg'):\n"
            '    sys.modules[name] = None\n'
            'script = sys.argv.pop(1)\n'
            'sys.argv[0] = script\n'
            "runpy.run_path(script, run_name='__main__')\n")


def export_main(argv: List[str]) -> int:
    """``tools/deploy/export_onnx.py ARGV`` in this process; its exit status."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('export_onnx_tool', EXPORT)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool.main(argv)


def run_without_torch(script: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH='')  # nothing but the venv's site-packages
    return subprocess.run([sys.executable, '-c', NO_TORCH, str(script), *args],
                          capture_output=True, text=True, env=env, cwd='/', timeout=300)


def onnx_outputs(path: str, image_rgb: np.ndarray) -> dict:
    """{output name: array without the batch axis} of one image at the graph's size."""
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, (v[0] for v in session.run(names, {'image': image_rgb[None]}))))
