"""ISC_VERIFIER and ISC_REGION_CANDIDATES reach the pipeline through runtime.search_settings_get."""

from __future__ import annotations

import pytest

from copydetect.scoring import ScoreCalibration
from workers import runtime

# The descriptor is named: without it search_settings_get asks the database and Milvus which version is live.


@pytest.fixture
def fresh_engines():
    runtime.engines_reset()
    yield
    runtime.engines_reset()


def test_default_is_sift_with_the_shipped_calibration_and_no_learned_engine(settings, fresh_engines):
    search = runtime.search_settings_get(settings.ISC.descriptor)

    assert search.verifier == "sift" and search.regions is None
    assert (search.top_k, search.verify_top_k) == (20, 10)  # 20 verified costs past the latency budget
    assert runtime.learned_verifier_get() is None
    assert search.calibration == ScoreCalibration.load(
        runtime.Path(settings.ISC.calibration_dir) / f"{settings.ISC.descriptor}.json"
    )


def test_learned_fallback_reads_its_own_calibration_and_builds_the_learned_engine(settings, fresh_engines):
    settings.ISC = settings.ISC.replace(verifier="sift+learned", learned_top_k=2, region_candidates=True)

    search = runtime.search_settings_get(settings.ISC.descriptor)
    learned = runtime.learned_verifier_get()

    assert (search.verifier, search.learned_top_k, search.regions is not None) == ("sift+learned", 2, True)
    assert search.calibration == ScoreCalibration.load(
        runtime.Path(settings.ISC.calibration_dir) / f"{settings.ISC.descriptor}+sift+learned.json"
    )
    assert learned is not None and learned.settings.matcher == settings.ISC.learned_matcher
    assert learned.cache_tag == "xfeat-v1-s640-k1024"


def test_a_verifier_without_its_own_calibration_falls_back_to_the_descriptor_s(settings, fresh_engines, tmp_path):
    (tmp_path / "sscd.json").write_text((runtime.Path(settings.ISC.calibration_dir) / "sscd.json").read_text())
    settings.ISC = settings.ISC.replace(verifier="learned", calibration_dir=str(tmp_path), descriptor="sscd")

    assert runtime.search_settings_get(settings.ISC.descriptor).calibration == ScoreCalibration.load(
        tmp_path / "sscd.json"
    )


def test_descriptor_models_get_the_configured_share_of_the_cores(settings, fresh_engines):
    settings.ISC = settings.ISC.replace(descriptor="sscd", model_threads=1)

    descriptor = runtime.descriptor_get()

    assert descriptor._session.get_session_options().intra_op_num_threads == 1
