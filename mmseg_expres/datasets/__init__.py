"""Data-set pieces: checked loaders and layout checks for segmentation."""
from .seg_layout import DatasetLayoutError, check_config_datasets, check_seg_layout
from .seg_transforms import BadSampleError, CheckedLoadAnnotations, CheckedLoadImageFromFile

__all__ = ['DatasetLayoutError', 'check_config_datasets', 'check_seg_layout',
           'BadSampleError', 'CheckedLoadAnnotations', 'CheckedLoadImageFromFile']
