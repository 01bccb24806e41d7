"""convgrad vs PyTorch CPU benchmarks: ``python -m bench`` (see bench/run.py)."""
