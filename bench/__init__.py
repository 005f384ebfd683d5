"""Benchmarks: scripts that print JSON, run from the repository root as ``python -m bench.<name>``.

A package so the scripts share modules (``bench.dubai_split``) and reach ``engine`` and
``training`` through ordinary imports instead of editing ``sys.path``.
"""
