"""Semantic segmentation data (ADE20K, Cityscapes layouts): checked loaders, layout check."""
from .layout import DatasetLayoutError, check_config_datasets, check_seg_layout
from .transforms import BadSampleError, CheckedLoadAnnotations, CheckedLoadImageFromFile

__all__ = ['DatasetLayoutError', 'check_config_datasets', 'check_seg_layout',
           'BadSampleError', 'CheckedLoadAnnotations', 'CheckedLoadImageFromFile']
