__version__ = '0.1.0'

#: The exact stack this release is built and tested with (requirements/*.txt).
PINNED = {
    'torch': '2.14.1',
    'torchvision': '0.29.1',
    'mmcv': '2.1.0',
    'mmengine': '0.10.7',
    'mmsegmentation': '1.2.2',
    'mmpretrain': '1.2.0',
    'timm': '1.0.31',
}
