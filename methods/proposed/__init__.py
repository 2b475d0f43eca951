"""The proposed two-branch regressor (Sun et al.); importing registers ``proposed``."""

from methods.proposed.method import ProposedConfig, ProposedMethod, create_proposed

__all__ = ["ProposedConfig", "ProposedMethod", "create_proposed"]
