"""Benchmark evaluation: per-expression scores, selection baselines from the same trajectories, reports."""
from derrvos_core.evaluation.baselines import (BASELINES, baseline_selections, decode_trajectories,
                                               oracle_selection)
from derrvos_core.evaluation.report import format_summary, write_report
from derrvos_core.evaluation.runner import (EvalProgress, EvalSettings, EvaluationReport, ExpressionRecord,
                                            evaluate,
                                            evaluate_sample, iter_evaluate, model_segmenter)
from derrvos_core.evaluation.scoring import ExpressionScore, score_masks, summarize

__all__ = ["BASELINES", "EvalProgress", "EvalSettings", "EvaluationReport", "ExpressionRecord",
           "ExpressionScore",
           "baseline_selections", "decode_trajectories", "evaluate", "evaluate_sample", "format_summary",
           "iter_evaluate", "model_segmenter", "oracle_selection", "score_masks", "summarize", "write_report"]
