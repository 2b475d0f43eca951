"""methods of hmrbench (uses bench/, never the reverse except through the registry).

Importing this package registers the built-in methods with ``bench.registry``: ``proposed`` (the paper's
two-branch regressor, projection d2s | wpp | pp), ``fhgr`` (its hand regressor alone), ``smplifyx`` (the
SMPLify-X-style optimiser baseline), ``lifter`` (the Martinez et al. 2017 2D->3D lifting MLP, joints only: a
reference for ``proposed``), and the reference rows of ``methods.substitution``: ``gtsub`` (``proposed`` with parts
of its prediction replaced by the ground truth) and ``meanpose`` (the training sets' mean pose for every sample).
"""

from methods import fhgr as _fhgr  # noqa: F401
from methods import lifter as _lifter  # noqa: F401
from methods import smplifyx as _smplifyx  # noqa: F401
from methods import substitution as _substitution  # noqa: F401
from methods.proposed import method as _proposed  # noqa: F401
