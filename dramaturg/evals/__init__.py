"""Evaluation: metrics computed from traces (suites and runners build on these)."""

from dramaturg.evals.drama import DramaMetrics, drama_metrics

__all__ = ["DramaMetrics", "drama_metrics"]
