"""`mlops init`: turn a user's CSV and label into this project's decisions, then its files.

The decisions (task, column roles, spans, baselines and floors, slices, drift thresholds,
load-test rows) are pure functions of the rows read, so each is unit-tested without TFX; the
writers that lay them out as files come after every decision has passed its checks, so bad input
leaves the tree unchanged.
"""
