"""``python -m aekit``: the command line, as a module (so ``torchrun -m aekit`` works)."""

from aekit.cli import main

if __name__ == "__main__":
    main()
