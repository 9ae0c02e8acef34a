"""Analysis: per-tag reports, figures, TensorBoard views, error analysis and sweep summaries."""
