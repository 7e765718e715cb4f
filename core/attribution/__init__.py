"""Per-point attribution: every column of the attribution table (LOO, IF, GNH, PBRF, Newton, self-influence,
leverage, TracIn, Data Shapley, BIF), their agreement and detection metrics."""
