"""``python -m infra.review``: the role-diff review aid (see :mod:`infra.review`)."""

import sys

from infra.review import main

sys.exit(main())
