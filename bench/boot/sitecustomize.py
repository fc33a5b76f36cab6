"""Installs SQL query counting (bench/querycount.py via bench/celery_bench.py) into Celery workers started by
bench/load.py, whose command lines are the Procfile's (`celery -A portal worker ...`): Python imports this module at
start-up from the folder bench/load.py puts on PYTHONPATH (scripts/stack.py's `pythonpath`). Other processes are left alone."""

import os
import sys

if os.path.basename(sys.argv[0] if sys.argv else "") == "celery" and "worker" in sys.argv:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import celery_bench  # noqa: F401  (connects the counting signals)
