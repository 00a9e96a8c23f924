"""Convergence: the real trainer code learns on a small fixed sample and can memorise one batch.

The loss history goes to build/test-reports/convergence.json for CI to upload, and a compact
curve is printed at the end of the test run.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models import features as F
from models.model import build_model
from models.trainer import HyperParameters, fit, non_finite_weights
from tests.support import tfx_data as S
from tests.support.model_checks import ConvergenceError, check_convergence, check_overfit

# On the 1,000-row sample the untrained model's loss is about 0.7 and a healthy run ends below
# 0.15 (measured); requiring half of the starting loss leaves a wide margin either way.
MIN_RELATIVE_DROP = 0.5
TINY_BATCH = 64
OVERFIT_MAX_LOSS = 0.05


def overfit_max_loss(tiny: dict[str, np.ndarray]) -> float:
    """OVERFIT_MAX_LOSS of cross-entropy for a class label. A regression's MSE is in the label's
    squared units, so there it is that share of the batch's label variance (what predicting the
    batch mean scores): the memorised batch must explain 95% of it."""
    if F.TASK != "regression":
        return OVERFIT_MAX_LOSS
    return OVERFIT_MAX_LOSS * float(np.var(tiny[F.LABEL_KEY]))


def test_training_loss_falls_by_a_clear_margin(trained, ci_report) -> None:
    verdict = check_convergence(
        trained.initial_loss, [trained.final_loss], min_relative_drop=MIN_RELATIVE_DROP
    )
    path = S.write_report(
        "convergence.json",
        {
            "initial_loss": trained.initial_loss,
            "final_loss": trained.final_loss,
            "min_relative_drop": MIN_RELATIVE_DROP,
            "history": trained.history,
        },
    )
    ci_report(
        "convergence",
        f"{verdict}\nloss per epoch: {S.sparkline(trained.history['loss'])}\nhistory: {path}",
    )


def test_loss_and_weights_stay_finite(trained) -> None:
    for name, values in trained.history.items():
        assert np.all(np.isfinite(values)), name
    assert non_finite_weights(trained.model) == []


def _hp(learning_rate: float, steps: int, training_config) -> HyperParameters:
    return HyperParameters(
        train_steps=steps,
        eval_steps=1,
        batch_size=TINY_BATCH,
        learning_rate=learning_rate,
        seed=training_config.seed,
        early_stopping_patience=steps,
        hidden_units=list(training_config.hidden_units),
    )


def _train(columns: S.Columns, hp: HyperParameters) -> tuple[float, float, dict]:
    tf.keras.utils.set_random_seed(hp.seed)
    model = build_model(hp.hidden_units, hp.learning_rate, hp.seed)
    data = S.dataset(columns, hp.batch_size)
    steps = -(-len(columns[F.LABEL_KEY]) // hp.batch_size)
    before = model.evaluate(data, steps=steps, verbose=0)[0]
    history = fit(model, data, data, hp)
    return before, model.evaluate(data, steps=steps, verbose=0)[0], history


def test_model_can_overfit_a_tiny_batch(transform_run, training_config, ci_report) -> None:
    tiny = {k: v[:TINY_BATCH] for k, v in transform_run.train.items()}
    _, final, history = _train(tiny, _hp(0.01, 200, training_config))
    verdict = check_overfit(final, max_loss=overfit_max_loss(tiny))
    ci_report("overfit one batch", f"{verdict}\nloss per epoch: {S.sparkline(history['loss'])}")


# Planted faults: the checks above must notice when training is broken.


def test_convergence_check_catches_a_model_that_does_not_learn(transform_run, training_config):
    before, after, _ = _train(transform_run.train, _hp(1e-7, 100, training_config))
    with pytest.raises(ConvergenceError, match="did not converge"):
        check_convergence(before, [after], min_relative_drop=MIN_RELATIVE_DROP)


def test_convergence_check_catches_a_diverging_learning_rate(transform_run, training_config):
    """Adam with a huge step: the loss explodes to ~1e4 and settles far above a healthy run.

    Keras clips probabilities in the cross-entropy, so this does not produce NaN; it is the
    convergence check, not the NaN guard, that stops it.
    """
    before, after, history = _train(transform_run.train, _hp(10.0, 100, training_config))
    assert max(history["loss"]) > 100
    with pytest.raises(ConvergenceError, match="did not converge"):
        check_convergence(before, [after], min_relative_drop=MIN_RELATIVE_DROP)


def test_overfit_check_catches_features_that_never_reach_the_model(
    transform_run, training_config
) -> None:
    """A wiring bug (every feature arrives as zero) leaves only the label prior to learn."""
    tiny = {
        k: v[:TINY_BATCH] if k == F.LABEL_KEY else np.zeros_like(v[:TINY_BATCH])
        for k, v in transform_run.train.items()
    }
    _, final, _ = _train(tiny, _hp(0.01, 200, training_config))
    with pytest.raises(ConvergenceError, match="cannot overfit"):
        check_overfit(final, max_loss=overfit_max_loss(tiny))
