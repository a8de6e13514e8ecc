"""Runners that resolve a benchmark's config variables (``--cfg-options``) when built."""
from .custom_seg import CustomSegRunner
from .fewshot_seg import FewShotSegRunner
from .fgvc_fewshot import FewShotRunner
from .list_benchmark import ListBenchmarkRunner
from .vtab import VtabRunner

__all__ = ['CustomSegRunner', 'FewShotRunner', 'FewShotSegRunner', 'ListBenchmarkRunner',
           'VtabRunner']
