"""``python -m basket_lib scan USERS_FILE``: see basket_lib.scan.cli."""

import sys

from basket_lib.scan.cli import main

if __name__ == "__main__":
    sys.exit(main())
