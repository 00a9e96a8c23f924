"""The regression baseline of a local run: the model released in the environment it feeds.

The Evaluator compares a candidate with what that environment runs. Which release that is, and
that an unreadable one stops the run instead of silently comparing with nothing, is a delivery
rule; the pipeline only receives the pulled model.
"""

from __future__ import annotations

from pathlib import Path

from components.baseline import ReleasedBaseline, import_release
from core.config import EnvironmentConfig
from core.errors import InfraError, MlopsError
from core.verdicts import Rule
from delivery.promotion import artifact_of
from delivery.rules import PromotionRefused
from store import release as rel


def released_baseline(
    environments_dir: Path, cfg: EnvironmentConfig
) -> tuple[ReleasedBaseline | None, str]:
    """The released model, pulled by digest, or None and why there is none.

    Only an environment fed by the pipeline (no `deploy.promote_from`) and run locally has one;
    a release whose artifact cannot be read is refused, since the regression gate needs it.
    """
    if cfg.deploy.promote_from or cfg.orchestration.runner != "local":
        return None, ""
    record = rel.read(environments_dir, cfg.name)
    if record is None:
        return None, f"{cfg.name} has no release yet in environments/{cfg.name}/release.yaml"
    try:
        return import_release(cfg.name, artifact_of(record.current), Path(cfg.work_dir)), ""
    except InfraError:
        raise
    except MlopsError as exc:
        raise PromotionRefused(
            getattr(exc, "rule", Rule.STORE),
            f"the baseline, {cfg.name}'s "
            f"release {record.current.short()}, cannot be read: {exc}. The "
            f"regression gate needs it; restore the artifact or roll back "
            f"the record",
        ) from None
