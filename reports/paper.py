"""The numbers the seed paper reports (Sun et al., "Synthetic Training for Monocular Human Mesh Recovery"), kept in
one place with where each comes from, so that no other module types a paper number.

Sources are cited as the paper's own sections, tables, figures and equations (what a reader can look up in the
paper), never as positions in the transcription this suite was built from. These are *reported* values: every
table prints them under "paper (reported)", beside ours, never as ours. ``None`` means the paper prints '-' (no
value). Table III's numbers were not transcribed (only its caption was): :data:`TABLE3_UNAVAILABLE` says so
wherever a number would stand.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CLAIMS",
    "PAPER_LABEL",
    "SPEEDUP_CLAIMED",
    "TABLE1",
    "TABLE1_SOURCE",
    "TABLE2",
    "TABLE2_SOURCE",
    "TABLE3_UNAVAILABLE",
    "TABLE3_SOURCE",
    "TABLE4",
    "TABLE4_DISCREPANCY",
    "TABLE4_SETUP",
    "TABLE4_SOURCE",
    "PaperAccuracy",
    "PaperClaim",
    "PaperRuntime",
]

PAPER_LABEL = "paper (reported)"


@dataclass(frozen=True)
class PaperAccuracy:
    """One row of a paper accuracy table, millimetres. ``match`` is the key our rows map onto it (a projection
    for Table I, a method family for Table II); None when no method of this suite corresponds (MTC, HMR, GCMR)."""

    label: str
    mpjpe_mm: float | None
    pa_mpjpe_mm: float | None
    match: str | None


@dataclass(frozen=True)
class PaperRuntime:
    """One method of the paper's runtime comparison, seconds per image: as Table IV prints it and as the text of
    Sec. IV-E states it (``text_wording`` quotes the text). ``match``: the method family of ours, or None."""

    label: str
    table_s: float
    text_s: float
    text_wording: str
    match: str | None


TABLE1_SOURCE = "Sun et al., Table I (CMU Panoptic Studio) and Sec. IV-C (effect of D2S projection)"
TABLE1 = (
    PaperAccuracy("MTC [14]", 63.0, None, None),
    PaperAccuracy("Proposed (D2S)", 53.2, 39.2, "d2s"),
    PaperAccuracy("- Weak-perspective proj. (WPP)", 57.5, 41.3, "wpp"),
    PaperAccuracy("- Perspective proj. (PP)", 61.8, 43.3, "pp"),
)

TABLE2_SOURCE = (
    "Sun et al., Table II (Human3.6M) and Sec. IV-D.2; protocol in Sec. IV-A ('follow the same protocol as in "
    "[4]', i.e. HMR's, videos down-sampled to 10 fps). The table prints one MPJPE / PA-MPJPE pair per method "
    "without naming protocol 1 or 2"
)
TABLE2 = (
    PaperAccuracy("HMR [4]", 87.9, 58.1, None),
    PaperAccuracy("GCMR [5]", 74.7, 51.9, None),
    PaperAccuracy("MTC [14]", 58.3, None, None),
    PaperAccuracy("SMPLify-X [15]", None, 75.9, "smplifyx"),
    PaperAccuracy("Ours", 67.4, 52.0, "proposed"),
)

TABLE3_SOURCE = "Sun et al., Table III (STB hand dataset) and Sec. IV-D.3"
TABLE3_UNAVAILABLE = "not transcribed: see the paper's Table III"

TABLE4_SOURCE = "Sun et al., Table IV and Sec. IV-E (efficiency analysis)"
TABLE4_SETUP = "Tesla P40 GPU, whole-body 2D keypoints (OpenPose) given, official code of each method"
TABLE4 = (
    PaperRuntime("SMPLify-X [15]", 12.0, 82.72, "82.72 s", "smplifyx"),
    PaperRuntime("MTC [14]", 82.0, 12.0, "about 12 s", None),
    PaperRuntime("Ours", 0.09, 0.09, "0.09 s", "proposed"),
)
TABLE4_DISCREPANCY = (
    "The paper disagrees with itself: Table IV prints SMPLify-X 12 s and MTC 82 s per image, while the text of "
    "Sec. IV-E says SMPLify-X takes 82.72 s per image and MTC about 12 s (the two values look swapped). "
    "Both are shown; neither is chosen."
)


@dataclass(frozen=True)
class PaperClaim:
    """A claim of the paper that the report's Claims section gives a verdict on: ``statement`` in short,
    ``source`` where the paper makes it (section, table, figure), ``wording`` the paper's own words.
    Numbers the claim rests on stay in the tables above (``TABLE1`` ...)."""

    key: str
    statement: str
    source: str
    wording: str


# "dozens or hundreds of times faster" (Sec. IV-E) read as the claim "more than 100x"; the paper's own numbers give
# 12 / 0.09 = 133x (Table IV) and 82.72 / 0.09 = 919x (text)
SPEEDUP_CLAIMED = 100.0

CLAIMS = (
    PaperClaim("d2s_panoptic", "D2S beats WPP and PP on Panoptic", "Sec. IV-C, Table I",
               "PP ... greatly outperformed by the proposed D2S projection 8.6mm MPJPE and 4.1mm PA-MPJPE ... WPP is "
               "outperformed by 4.3mm MPJPE and 2.1mm PA-MPJPE"),
    PaperClaim("close_range", "D2S's advantage grows at close range",
               "Abstract; Sec. III-C and III-E (Eq. 8-9), Fig. 5",
               "the performance in close shot images gets significantly improved using the proposed D2S projection; "
               "when a person is close to the camera, the weak-perspective camera is prone to fail"),
    PaperClaim("pp_stability", "PP training is less stable than D2S", "Sec. IV-C",
               "the training of the proposed D2S projection is much more stable than the PP, which is prone to "
               "collapse"),
    PaperClaim("sts_fhgr", "STS improves FHGR on STB", "Sec. IV-D.3, Table III",
               "With the help of STS, FHGR moves towards GraphHand [11], indicating that STS is vital for recovering "
               "the partial parameters"),
    PaperClaim("speed", "The regressor is more than 100x faster than SMPLify-X",
               "Sec. IV-E, Table IV",
               "SMPLify-X takes 82.72 seconds per image, while the proposed single-step framework only consumes 0.09 "
               "seconds per image ... dozens or hundreds of times faster"),
    PaperClaim("smplifyx_pa", "The regressor beats SMPLify-X in PA-MPJPE on Human3.6M",
               "Sec. IV-D.2, Table II",
               "SMPLify-X is significantly outperformed by our single-step regressor method in terms of the "
               "PA-MPJPE"),
)  # fmt: skip
