"""Data sets by benchmark family; importing this package registers their mmseg pieces.

- ``segmentation/``: checked loaders, layout / class-count / label checks (ADE20K,
  Cityscapes, your own data).
- ``vtab/``: the VTAB-1k task table and its list files.
- ``fgvc_fewshot/``: the FGVC few-shot classification benchmark (NOAH's lists), K-shot drawing.
- ``fewshot_seg/``: PASCAL-5i / COCO-20i folds, episodes and the episodic data set.
- ``lists/``: list files and the checks the list benchmarks' checkers share.
- ``demo_data/``: generators of small data sets in the real layouts, for demos and tests.

The runners that resolve each benchmark's config live in :mod:`mmseg_expres.engine.runners`.
"""
from .fewshot_seg import EpisodeBinaryMask, FewShotSegDataset
from .segmentation import (BadSampleError, CheckedLoadAnnotations, CheckedLoadImageFromFile,
                           ClassCountError, DatasetLayoutError, check_class_counts,
                           check_config_datasets, check_seg_layout)

__all__ = ['ClassCountError', 'check_class_counts',
           'DatasetLayoutError', 'check_config_datasets', 'check_seg_layout',
           'BadSampleError', 'CheckedLoadAnnotations', 'CheckedLoadImageFromFile',
           'EpisodeBinaryMask', 'FewShotSegDataset']
