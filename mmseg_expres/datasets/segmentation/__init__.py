"""Semantic segmentation data (ADE20K, Cityscapes, your own): checked loaders, layout,
class-count and label checks, custom class lists."""
from .class_count import ClassCountError, check_class_counts
from .classes import check_palette, read_classes
from .layout import DatasetLayoutError, check_config_datasets, check_seg_layout
from .transforms import BadSampleError, CheckedLoadAnnotations, CheckedLoadImageFromFile

__all__ = ['ClassCountError', 'check_class_counts', 'check_palette', 'read_classes',
           'DatasetLayoutError', 'check_config_datasets', 'check_seg_layout',
           'BadSampleError', 'CheckedLoadAnnotations', 'CheckedLoadImageFromFile']
