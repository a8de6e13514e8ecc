"""Deployment: ONNX export of a segmentor at one input size (docs/deploy.md).

:mod:`.runtime` (the file's contract, one image through onnxruntime) imports neither
torch nor this package's other modules; ``tools/deploy/infer_onnx.py`` loads it alone.
"""
from .export import ExportError, export_onnx
from .parity import MIN_AGREEMENT, Parity

__all__ = ['ExportError', 'MIN_AGREEMENT', 'Parity', 'export_onnx']
