"""``python -m convgrad.cli ...`` runs the ``convgrad`` command."""
import sys

from . import main

sys.exit(main())
