"""The shipped policy pins exactly the classifier artefacts that ship, so a retrained model can
never start under a policy (and attestation) that names its predecessor."""

from __future__ import annotations

import tomllib

from inference.classifiers import shipped_manifest
from inference.policy import pin_installed_manifest, shipped_policy_bytes


def test_shipped_policy_pins_the_shipped_classifier_artefacts() -> None:
    text = shipped_policy_bytes().decode()
    pinned, _ = pin_installed_manifest(text)
    assert pinned == text, (
        "inference/data/default-policy.toml is out of date with the classifier artefacts: "
        "run `veritee policy pin-manifest inference/data/default-policy.toml`"
    )


def test_pinning_keeps_everything_else_and_lists_every_artefact() -> None:
    text = shipped_policy_bytes().decode()
    unpinned = text.replace("[[classifiers.manifest]]", "[[classifiers.old_manifest]]")
    pinned, count = pin_installed_manifest(text)
    parsed = tomllib.loads(pinned)
    assert [e["id"] for e in parsed["classifiers"]["manifest"]] == [r.id for r in shipped_manifest()]
    assert count == len(shipped_manifest())
    assert parsed["categories"] == tomllib.loads(unpinned)["categories"]
    assert "# veritee's default safety policy." in pinned
