"""Benchmarks of the spectra diagnostics against PyHessian and BackPACK, and of the book's own cost.

``main(argv)`` (``python -m bench``) measures every case, writes ``bench/results.json``
and renders the "Performance" appendix ``book/performance.md`` from it. Benchmarks are not
tests: nothing here asserts a timing.
"""

from bench.cli import main

__all__ = ["main"]
