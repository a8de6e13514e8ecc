"""Drawing predictions: palette PNGs, overlays with a legend (tools/infer.py, the web page)."""
from .drawing import (class_palette, draw_legend, overlay, overlay_with_legend,
                      save_index_png)

__all__ = ['class_palette', 'draw_legend', 'overlay', 'overlay_with_legend',
           'save_index_png']
