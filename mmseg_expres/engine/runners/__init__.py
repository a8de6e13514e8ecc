"""Runners that resolve a benchmark's config variables (``--cfg-options``) when built."""
from .fewshot_seg import FewShotSegRunner
from .fgvc_fewshot import FewShotRunner
from .list_benchmark import ListBenchmarkRunner
from .vtab import VtabRunner

__all__ = ['FewShotRunner', 'FewShotSegRunner', 'ListBenchmarkRunner', 'VtabRunner']
