"""python -m mimo2codex"""

import sys

from mimo2codex.cli import main

if __name__ == "__main__":
    sys.exit(main())
