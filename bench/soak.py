"""The chaos soak is the product-path soak: ``python -m bench.soak`` runs
``bench/soak_product.py`` with the same arguments.

The loop that used to live here (its own scan/log/outbox cycle around ``scan_folder``)
was retired by issue 11: a figure from a loop is not a figure about what people run.
"""

from __future__ import annotations

import sys

from bench.soak_product import main

if __name__ == "__main__":
    sys.exit(main())
