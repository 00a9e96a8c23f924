"""Continuous training's data view: the spans of training data, the drift between them, and
when a released model's score is decay (ct.decay).

Shared by the drift gate in the pipeline and by `mlops ct check`, so both judge a new span
with the same comparators and thresholds.
"""
