"""The web page of tools/web_demo.py (docs/web_demo.md). ``page`` needs Gradio, the
``demo`` extra (``pip install -e .[demo]``); the rest of the package does not."""
from .inputs import DemoInputError
from .runs import FewShotDemo, SegmentDemo

__all__ = ['DemoInputError', 'FewShotDemo', 'SegmentDemo']
