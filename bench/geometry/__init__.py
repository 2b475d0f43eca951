"""Geometry: rotations, camera projections, alignment and the error metrics."""
