"""Generated few-shot folders for the tests: NOAH's layout, lists drawn as the tool does."""
import importlib.util
from pathlib import Path
from typing import Dict, Optional, Sequence

from mmseg_expres.datasets.fgvc_fewshot.benchmark import list_file
from mmseg_expres.datasets.fgvc_fewshot.sampling import draw_shots
from mmseg_expres.datasets.lists.files import ListEntry, write_list_file
from mmseg_expres.datasets.demo_data.fgvc_fewshot import make_fewshot_dataset

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = str(REPO / 'configs' / 'demo' / 'expres_vit-demo_1xb4-100e_fgvc-fewshot.py')


def load_tool(name: str):
    """Import ``tools/fewshot/<name>.py`` (tools are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(
        f'fewshot_{name}', REPO / 'tools' / 'fewshot' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_folder(root: str, name: str, per_class: Dict[str, int], shots: Sequence[int],
                seeds: Sequence[int], custom_num_classes: Optional[int] = None) -> Path:
    """A data set folder with its train/val/test lists and the K-shot lists of ``shots``."""
    rows = make_fewshot_dataset(root, name, per_class, custom_num_classes)
    train = [ListEntry(i + 1, path, label) for i, (path, label) in enumerate(rows['train'])]
    num_classes = max(label for _, label in rows['train']) + 1
    for shot in shots:
        for seed in seeds:
            write_list_file(list_file(root, name, 'shots', shot, seed),
                            draw_shots(train, shot, seed, num_classes))
    return Path(root) / name
