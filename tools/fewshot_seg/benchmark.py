"""Episodes per second and peak memory of few-shot segmentation configs.

    python tools/fewshot_seg/benchmark.py CONFIG [CONFIG ...] [--shots 1 5] [--batch 8]
        [--steps 10] [--random-weights] [--device cuda] [--cfg-options key=value ...]

For each config: 1-shot and 5-shot testing (no gradients, batch 1 as tools/test.py runs
it) and one meta-training step (forward + backward, ``--batch`` episodes of the training
shot), on random images of the config's ``crop_size``. Memory is the peak CUDA
allocation on a GPU, the process's peak resident set size on the CPU (which only grows,
so compare CPU numbers within one config). Compare EXPRES with the frozen baseline:

    python tools/fewshot_seg/benchmark.py configs/fewshot/expres_vit-b_pascal5i.py \
        configs/baselines/linear-probe_vit-b16_proto_1xb8-20k_pascal5i-480x480.py
"""
import argparse
import resource
import time
from typing import Dict, List

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import MODELS, DefaultScope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample


def random_episodes(batch: int, shot: int, size, device: str):
    """(B, 1 + K, 3, H, W) normalised-like images and data samples with random masks."""
    h, w = size
    inputs = torch.randn(batch, 1 + shot, 3, h, w, device=device)
    samples = []
    for _ in range(batch):
        sample = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
        sample.support_masks = PixelData(data=torch.randint(0, 2, (shot, h, w), device=device))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, h, w), device=device))
        samples.append(sample)
    return inputs, samples


def peak_memory_mb(device: str) -> float:
    if device.startswith('cuda'):
        return torch.cuda.max_memory_allocated() / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_episodes(model: torch.nn.Module, shot: int, size, batch: int, steps: int,
                  train: bool, device: str) -> Dict[str, float]:
    """Episodes per second and peak memory (MB) of test forwards or training steps."""
    inputs, samples = random_episodes(batch, shot, size, device)
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()

    def step() -> None:
        if train:
            model.train()
            sum(model.loss(inputs, samples).values()).backward()
        else:
            model.eval()
            with torch.no_grad():
                model.predict(inputs, samples)

    step()  # warm-up
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.startswith('cuda'):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return dict(episodes_per_s=batch * steps / seconds, memory_mb=peak_memory_mb(device))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--shots', type=int, nargs='+', default=[1, 5])
    parser.add_argument('--batch', type=int, default=8, help='episodes per training step')
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--random-weights', action='store_true',
                        help='skip loading the pretrained ViT (timing only)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    args = parser.parse_args()
    rows: List[str] = ['| config | what | episodes/s | peak memory (MB) |', '|---|---|---|---|']
    for path in args.configs:
        cfg = Config.fromfile(path)
        cfg.merge_from_dict(args.cfg_options)
        if args.random_weights:
            cfg.model.backbone.pretrained = None
        with DefaultScope.overwrite_default_scope('mmseg'):
            model = MODELS.build(cfg.model).to(args.device)
        size = tuple(cfg.crop_size)
        cases = [(f'test {k}-shot', k, 1, False) for k in args.shots]
        cases.append((f'train step ({args.batch} x {cfg.train_shot}-shot)', cfg.train_shot,
                      args.batch, True))
        for what, shot, batch, train in cases:
            result = time_episodes(model, shot, size, batch, args.steps, train, args.device)
            rows.append(f'| {path} | {what} | {result["episodes_per_s"]:.2f} | '
                        f'{result["memory_mb"]:.0f} |')
    print('\n'.join(rows))


if __name__ == '__main__':
    main()
