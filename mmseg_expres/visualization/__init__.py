"""Drawing predictions, all in RGB: palette PNGs, overlays of label maps and binary masks,
legends (tools/infer.py, the web page, tools/fewshot_seg/segment.py)."""
from .drawing import (OBJECT_RGB, ClassShare, class_palette, class_shares, draw_legend,
                      overlay, overlay_mask, overlay_with_legend, save_index_png)

__all__ = ['OBJECT_RGB', 'ClassShare', 'class_palette', 'class_shares', 'draw_legend',
           'overlay', 'overlay_mask', 'overlay_with_legend', 'save_index_png']
