"""hmrbench core: body model, skeletons, geometry, metrics, registry, runner and CLI.

Units and frames used everywhere in the package (declared once, here):
metres; camera frame = OpenCV (x right, y down, z forward); reports in millimetres.
"""

__version__ = "0.1.0"
