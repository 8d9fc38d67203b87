"""The quickstart study: exact answers, determinism and failing claims when GD is cut short."""

from __future__ import annotations

import numpy as np
import pytest

from trainingdynamics.profiles import ParameterError
from trainingdynamics.studies import quickstart as study


def test_same_seed_gives_bit_identical_claims() -> None:
    first = study.claims(study.run(study.config("quick"), seed=4))
    second = study.claims(study.run(study.config("quick"), seed=4))
    other = study.claims(study.run(study.config("quick"), seed=5))
    assert [c.value for c in first] == [c.value for c in second]
    assert [c.value for c in first] != [c.value for c in other]


def test_truncated_run_fails_its_claims() -> None:
    result = study.run(study.config("quick", steps=20), seed=0)
    verdicts = {c.name: c.verdict for c in study.claims(result)}
    assert verdicts["min_norm_error"] == "failed" and verdicts["interpolation"] == "failed"


def test_predicted_rate_is_the_worst_mode() -> None:
    assert study.predicted_rate(0.5, np.array([0.2, 1.0, 3.9])) == pytest.approx(
        max(0.9, 0.5, 0.95)
    )


@pytest.mark.parametrize("overrides", [{"n_features": 10}, {"step_fraction": 1.2}, {"noise": -1.0}])
def test_bad_configs_are_rejected(overrides) -> None:
    with pytest.raises(ParameterError):
        study.config("quick", **overrides)
