"""Evaluation: suites of cases, agents to compare, runners, metrics and reports.

Example:
    >>> from dramaturg.evals import AgentSpec, builtin_suite, run_eval
    >>> suite = builtin_suite("alfworld-style", n=2, splits=("unseen",))
    >>> summary = run_eval(suite, AgentSpec(kind="oracle"), out="runs/oracle")  # doctest: +SKIP
"""

from dramaturg.drama.metrics import DramaMetrics, drama_metrics
from dramaturg.evals.agents import AGENT_KINDS, AgentSpec
from dramaturg.evals.cases import Case, DatasetError, Suite, load_suite_file
from dramaturg.evals.gaia import extract_final_answer, gaia_score, load_gaia
from dramaturg.evals.judge import Judge
from dramaturg.evals.metrics import pass_at_k, summarize
from dramaturg.evals.panel import agreement
from dramaturg.evals.report import compare, write_report
from dramaturg.evals.rubric import DEFAULT_DRAMA_RUBRIC, Rubric
from dramaturg.evals.runner import BACKENDS, read_episodes, run_eval
from dramaturg.evals.suites import BUILTIN_SUITES, builtin_suite, load_suite

__all__ = [
    "AGENT_KINDS",
    "BACKENDS",
    "BUILTIN_SUITES",
    "DEFAULT_DRAMA_RUBRIC",
    "AgentSpec",
    "Case",
    "DatasetError",
    "DramaMetrics",
    "Judge",
    "Rubric",
    "Suite",
    "agreement",
    "builtin_suite",
    "compare",
    "drama_metrics",
    "extract_final_answer",
    "gaia_score",
    "load_gaia",
    "load_suite",
    "load_suite_file",
    "pass_at_k",
    "read_episodes",
    "run_eval",
    "summarize",
    "write_report",
]
