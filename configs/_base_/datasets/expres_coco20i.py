# COCO-20i: COCO 2014 with one semantic PNG per image, written from the instance
# annotations by tools/dataset_converters/coco20i_masks.py. Meta-training reads
# train2014 (82,783 images), testing val2014 (40,504). FewShotSegRunner writes these
# into the loaders; coco_split (configs/_base_/fewshot_seg.py) picks the fold convention.
benchmark = 'coco20i'
data_root = 'data/coco'
train_data = dict(ann_file='fewshot_seg/train2014.txt',
                  data_prefix=dict(img_path='train2014', seg_map_path='fewshot_seg/train2014'))
test_data = dict(ann_file='fewshot_seg/val2014.txt',
                 data_prefix=dict(img_path='val2014', seg_map_path='fewshot_seg/val2014'))
