"""`python -m mlops`, the same as the `mlops` console script."""

import sys

from mlops.main import main

sys.exit(main())
