"""`python -m slogate.cli`."""

import sys

from slogate.cli.main import main

sys.exit(main())
