"""`python -m loaders`: run the warehouse loader until SIGTERM (see loaders/service.py)."""

import sys

from loaders.service import main

sys.exit(main())
