# PASCAL-5i: VOC 2012 with SBD's masks in mmseg's layout (mmseg's
# tools/dataset_converters/voc_aug.py writes SegmentationClassAug and the lists).
# Meta-training reads trainaug (10,582 images), testing val (1,449). FewShotSegRunner
# writes these into the loaders (configs/_base_/fewshot_seg.py).
benchmark = 'pascal5i'
data_root = 'data/VOCdevkit/VOC2012'
voc_folders = dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug')
train_data = dict(ann_file='ImageSets/Segmentation/trainaug.txt', data_prefix=voc_folders)
test_data = dict(ann_file='ImageSets/Segmentation/val.txt', data_prefix=voc_folders)
