"""``python -m infra.cli`` is ``bc-sales``."""

import sys

from infra.cli.main import main

sys.exit(main())
