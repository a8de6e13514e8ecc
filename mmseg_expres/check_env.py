"""``python -m mmseg_expres.check_env``: print versions and whether everything imports."""
import platform
import sys


def main() -> int:
    import torch

    from .utils.env import collect_env
    versions, problems = collect_env()
    print(f'python        {platform.python_version()}')
    for name, version in versions.items():
        print(f'{name:<13} {version}')
    print(f'cuda          {torch.cuda.is_available()} '
          f'({torch.cuda.device_count()} device(s), torch built for {torch.version.cuda})')
    if problems:
        print('\nPROBLEMS:')
        for problem in problems:
            print(f'  - {problem}')
        return 1
    print('\nmmseg-expres environment OK')
    return 0


if __name__ == '__main__':
    sys.exit(main())
