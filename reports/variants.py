"""Reading method and dataset specs (``name[k=v,...]``, parsed by ``bench.method.parse_spec``) for the reports:
which projection a variant uses, which H36M protocol a dataset spec names, and the label a table prints.

Labels follow the paper's wording (``Proposed (D2S)``, ``FHGR + STS (ours)``, ...); the spec itself is printed
beside every label, so a label never hides which variant a number belongs to. Reference methods (``REFERENCES``:
the lifter, and the floors and ceilings of ``methods.substitution``, ``gtsub`` labelled by the parts it replaces and
``meanpose``; the paper has no row for them, the tables list them last with '–' for the paper) are labelled as such.
"""

from __future__ import annotations

from typing import Any

from bench.errors import ConfigError
from bench.method import format_spec, parse_spec

__all__ = [
    "DEFAULT_H36M_PROTOCOL",
    "DEFAULT_PROJECTION",
    "REFERENCES",
    "dataset_name",
    "dataset_setting",
    "is_reference",
    "method_label",
    "projection",
    "split_spec",
    "without_setting",
]

DEFAULT_PROJECTION = "d2s"  # ProposedConfig's default: a bare 'proposed' is the D2S variant
DEFAULT_H36M_PROTOCOL = "p1"  # the h36m adapter's default
# method family -> (label, what the reference is): rows of ours the paper does not have
REFERENCES = {
    "lifter": ("Lifting MLP (Martinez et al. 2017), reference",
               "the 2D->3D lifting MLP of Martinez et al. 2017 (joints only, no mesh) trained on the same sets and "
               "STS stream as the proposed regressor; the paper has no such row"),
    "gtsub": ("Proposed with ground-truth parts, reference",
              "the proposed regressor's own trained model (the same training key, loaded, not retrained) with the "
              "named parts of its predicted SMPL-X replaced by the ground truth (camera frame) or set to zero, a "
              "ceiling that says where its error lives; not a method of the paper"),
    "meanpose": ("Mean pose, reference",
                 "one constant body for every sample: the training sets' mean pose (chordal mean rotation per joint, "
                 "global orientation included) with zero shape (shape=mean: the mean shape), input ignored, a floor; "
                 "not a method of the paper"),
}  # fmt: skip
# gtsub parts -> the words its label uses
_PART_WORDS = {"global_orient": "global rotation", "body_pose": "body pose", "betas": "shape", "transl": "position",
               "left_hand_pose": "left hand", "right_hand_pose": "right hand", "jaw_pose": "jaw",
               "expression": "expression", "leye_pose": "left eye", "reye_pose": "right eye"}  # fmt: skip
_PROJECTION_LABELS = {"d2s": "Proposed (D2S)", "wpp": "Proposed, weak-perspective proj. (WPP)",
                      "pp": "Proposed, perspective proj. (PP)"}  # fmt: skip


def split_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``'h36m[protocol=p2]'`` -> ('h36m', {'protocol': 'p2'}); '' -> ('', {}). A malformed spec is a ConfigError."""
    if not spec:
        return "", {}
    try:
        return parse_spec(spec)
    except ValueError as exc:
        raise ConfigError(str(exc).replace("method spec", "spec")) from None


def dataset_name(spec: str) -> str:
    """The registered name of a dataset spec: the part before ``[``."""
    return split_spec(spec)[0]


def dataset_setting(spec: str, key: str, default: Any) -> Any:
    """The value of setting ``key`` in a spec, ``default`` when the spec does not set it."""
    return split_spec(spec)[1].get(key, default)


def without_setting(spec: str, key: str) -> str:
    """The spec with setting ``key`` removed: ``'h36m[joints=14,protocol=p2]'``, 'protocol' -> ``'h36m[joints=14]'``
    (remaining settings sorted by name)."""
    name, params = split_spec(spec)
    params.pop(key, None)
    return format_spec(name, params)


def projection(variant: str, method: str = "") -> str | None:
    """The projection of a ``proposed`` variant ('d2s' when not given); None for other method families."""
    name, params = split_spec(variant)
    if (method or name) != "proposed":
        return None
    return str(params.get("projection", DEFAULT_PROJECTION)).lower()


def is_reference(variant: str, method: str = "") -> bool:
    """True for a variant of a reference family (``REFERENCES``)."""
    return (method or split_spec(variant)[0]) in REFERENCES


def method_label(variant: str, method: str = "") -> str:
    """Human label of a variant in the paper's wording; the spec itself for anything not named below."""
    name, params = split_spec(variant)
    family = method or name
    if family == "gtsub":
        return _substitution_label(params)
    if family == "meanpose" and str(params.get("shape", "zero")).lower() == "mean":
        return "Mean pose and shape, reference"
    if family in REFERENCES:
        return REFERENCES[family][0]
    if family == "proposed":
        return _PROJECTION_LABELS.get(projection(variant, family) or "", variant)
    if family == "smplifyx":
        return "SMPLify-X"
    if family == "fhgr":
        sts = params.get("sts", False) is True
        gt2d = str(params.get("input", "detected")).lower() == "gt2d"
        label = "FHGR + STS" if sts else "FHGR"
        if gt2d:
            return label + "*"  # the paper's '*': ground-truth 2D hand keypoints as input
        return label + " (ours)" if sts else label
    return variant


def _substitution_label(params: dict[str, Any]) -> str:
    """``gtsub[parts=global_orient+body_pose,zero=betas,projection=d2s]`` -> 'Proposed (D2S), true global rotation
    and body pose, zero shape, reference'."""
    base = _PROJECTION_LABELS.get(str(params.get("projection", DEFAULT_PROJECTION)).lower(), "Proposed")

    def words(value: Any, default: str) -> list[str]:
        names = [n for n in str(value if value is not None else default).split("+") if n and n != "none"]
        return [_PART_WORDS.get(n, n) for n in names]

    true, zero = words(params.get("parts"), "global_orient"), words(params.get("zero"), "")
    everything = "all" in str(params.get("parts", ""))
    said = (["every parameter true"] if everything else [f"true {' and '.join(true)}"] if true else []) + (
        [f"zero {' and '.join(zero)}"] if zero else []
    )
    return f"{base}, {', '.join(said)}, reference"
