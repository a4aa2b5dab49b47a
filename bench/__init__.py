"""Benchmarks of ministry-monitor against urlwatch (and trafilatura for extraction); run with `python -m bench`.

Not part of the test run: nothing under tests/ imports this package.
"""
