"""Write a self-contained checkpoint (frozen ViT included) from a task checkpoint.

    python tools/export_full_checkpoint.py CONFIG TASK_CKPT OUT.pth [--merge]
        [--cfg-options key=value ...]

Task checkpoints hold the prompts, neck and heads and need the pretrained ViT named in
the config. The exported file also holds the ViT, so users without the pretrained file
can run it with ``model.backbone.pretrained=None``; a config that says so is written next
to it (``OUT.py``) for ``init_model``/``MMSegInferencer``/``tools/test.py``.

``--merge`` (LoRA and SSF, ``PeftViT``) folds the tuned tensors into the ViT's weights:
the exported model is a plain ViT with the heads, at plain-ViT inference cost
(``model.backbone.merged=True`` in ``OUT.py``).
"""
import argparse
import os.path as osp

# Only the standard library before the arguments are parsed: --help and argument errors
# are answered without importing torch or mmseg; main imports what the export needs.


def output_paths(config: str, task_checkpoint: str, out: str) -> tuple:
    """(checkpoint, config) to write, refused where they would overwrite an input.

    ``OUT.py`` beside ``OUT.pth`` must not be the config read (``configs/my.pth`` next to
    ``configs/my.py`` would replace the user's config by a flattened one without
    ``pretrained``), and ``OUT`` must not be the task checkpoint.
    """
    out_cfg = osp.splitext(out)[0] + '.py'
    for written, read in ((out_cfg, config), (out, task_checkpoint), (out, config)):
        if osp.exists(written) and osp.samefile(written, read):
            raise SystemExit(f'error: writing {out} (and its config {out_cfg}) would '
                             f'overwrite {read}, which this export reads. Give OUT another '
                             'name, e.g. work_dirs/export/model_full.pth.')
    return out, out_cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('task_checkpoint')
    parser.add_argument('out')
    parser.add_argument('--merge', action='store_true',
                        help='fold LoRA or SSF into the ViT weights (PeftViT configs)')
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE',
                        help='e.g. model.backbone.pretrained=PATH')
    args = parser.parse_args()
    for name in ('config', 'task_checkpoint'):
        if not osp.isfile(getattr(args, name)):
            parser.error(f'no {name} file {getattr(args, name)}')
    out, out_cfg = output_paths(args.config, args.task_checkpoint, args.out)
    import torch

    from mmseg_expres.apis import init_model, load_checked_config
    from mmseg_expres.apis.runner_setup import parse_cfg_options
    from mmseg_expres.utils.checkpoint_files import atomic_write

    # the config as every tool reads it (a custom-data config's classes resolved); the
    # backbone's fingerprint check fails if its ViT is not the one the checkpoint was
    # trained with
    cfg = load_checked_config(args.config, parse_cfg_options(args.cfg_options))
    model = init_model(cfg, args.task_checkpoint)
    if args.merge:
        if not hasattr(model.backbone, 'merge_'):
            raise SystemExit(f'--merge folds LoRA or SSF into the ViT; this config\'s backbone '
                             f'is {type(model.backbone).__name__}. Export without --merge.')
        model.backbone.merge_()  # refuses AdaptFormer, naming the methods that merge
        cfg.model.backbone.merged = True
    task = torch.load(args.task_checkpoint, map_location='cpu', weights_only=True)
    meta = dict(task.get('meta', {}), task_checkpoint=False)
    with atomic_write(out, 'wb') as f:  # never a truncated file under the name
        torch.save({'meta': meta, 'state_dict': model.state_dict()}, f)

    cfg.model.backbone.pretrained = None
    with atomic_write(out_cfg) as f:
        f.write(cfg.pretty_text)
    print(f'wrote {out} ({osp.getsize(out) / 2**20:.1f} MiB) and {out_cfg} '
          '(its backbone.pretrained is None: the weights come from the checkpoint)')


if __name__ == '__main__':
    main()
