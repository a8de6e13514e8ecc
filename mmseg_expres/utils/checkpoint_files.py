"""Files that must never be left half-written: checkpoints and protocol results.

Everything the project writes under a final name goes through :func:`atomic_write`: a
temporary file in the same folder, renamed over the final name once complete, so an
interrupted run leaves the previous file or none, never a truncated one. MMEngine's
``CheckpointHook`` writes through a file backend; :class:`AtomicLocalBackend` is its
local backend with that rename (``TaskCheckpointHook`` selects it).
"""
import contextlib
import glob
import os
import os.path as osp
import tempfile
import zipfile
from typing import IO, Iterator, Union

from mmengine.fileio import LocalBackend, register_backend


@contextlib.contextmanager
def atomic_write(path: str, mode: str = 'w') -> Iterator[IO]:
    """Open a temporary file next to ``path``; rename it to ``path`` if the block succeeds.

    Args:
        path: the final file.
        mode: ``'w'`` (text, UTF-8) or ``'wb'``.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=folder)
    try:
        # mkstemp makes the file private (0600); the final file gets the permissions
        # open() would give it, so colleagues can read a shared work dir's checkpoints
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, mode, **({} if 'b' in mode else dict(encoding='utf-8'))) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def _umask() -> int:
    """The process's umask (reading it means setting it; set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@register_backend('atomic_local', force=True)  # importlib.reload-safe
class AtomicLocalBackend(LocalBackend):
    """MMEngine's local file backend, writing through :func:`atomic_write`."""

    def put(self, obj: bytes, filepath: Union[str, os.PathLike]) -> None:
        with atomic_write(str(filepath), 'wb') as f:
            f.write(obj)


def check_checkpoint_file(path: str) -> None:
    """Refuse a local checkpoint file that is cut short, naming it and what to do.

    ``torch.save`` writes a zip archive whose central directory comes last, so a file
    whose write was interrupted has none. Files of torch's pre-1.6 format and remote
    URLs are left to ``torch.load``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is empty or a zip archive without its end.
    """
    if '://' in path:
        return
    if not osp.isfile(path):
        raise FileNotFoundError(f'Checkpoint not found: {path!r}')
    if zipfile.is_zipfile(path):
        return
    with open(path, 'rb') as f:
        start = f.read(4)
    if start and start != b'PK\x03\x04':
        return  # torch's legacy format: torch.load reports its own errors
    others = sorted(set(glob.glob(osp.join(osp.dirname(path) or '.', '*.pth')))
                    - {path, osp.abspath(path)})
    raise ValueError(
        f'{path} is not a complete checkpoint ({osp.getsize(path):,} bytes, its end is '
        'missing): the run or copy that wrote it was interrupted. Use another checkpoint'
        + (f' ({", ".join(osp.basename(p) for p in others[-3:])} in the same folder)'
           if others else '')
        + ', or write this one again.')
