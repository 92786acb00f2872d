"""Benchmarks: scripts that print figures (python -m bench); never timed assertions."""
