import sys

from wheelmagic.cli import main

sys.exit(main())
