import sys

from irbot.cli import main

sys.exit(main())
