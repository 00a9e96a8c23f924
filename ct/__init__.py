"""Continuous training's data view: the spans of training data, and the drift between them.

Shared by the drift gate in the pipeline and by `mlops ct check`, so both judge a new span
with the same comparators and thresholds.
"""
