"""aurio's benchmarks (not tests): run `python bench/run.py` from the repo root."""
