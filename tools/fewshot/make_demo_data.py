"""Write the few-shot demo's data: small generated data sets in the benchmark's layout.

    python tools/fewshot/make_demo_data.py [--out data/fewshot_demo] [--datasets demo-a demo-b]

Each data set gets ``--classes`` classes (4: the demo config's ``custom_num_classes``)
with full ``train`` / ``val`` / ``test`` lists under ``annotations/`` and no K-shot list:
the demo draws those with tools/fewshot/make_fewshot_lists.py, as for a data set of your
own. Each class has its own colour (mmseg_expres/datasets/synthetic_fewshot.py).
"""
import argparse
from typing import Optional, Sequence

from mmseg_expres.datasets.demo_data.fgvc_fewshot import make_fewshot_dataset


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/fewshot_demo', help='the few-shot root')
    parser.add_argument('--datasets', nargs='+', default=['demo-a', 'demo-b'])
    parser.add_argument('--classes', type=int, default=4)
    parser.add_argument('--train', type=int, default=4, help='training images per class')
    parser.add_argument('--val', type=int, default=2, help='val images per class')
    parser.add_argument('--test', type=int, default=5, help='test images per class')
    args = parser.parse_args(argv)
    for name in args.datasets:
        make_fewshot_dataset(args.out, name, dict(train=args.train, val=args.val,
                                                  test=args.test),
                             custom_num_classes=args.classes, image_size=16)
    print(f'wrote {len(args.datasets)} data set(s) of {args.classes} classes to {args.out}')


if __name__ == '__main__':
    main()
