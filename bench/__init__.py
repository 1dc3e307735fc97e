"""Benchmarks: ``python -m bench [NAME ...]`` runs every ``bench_*.py`` module's ``run()``."""
