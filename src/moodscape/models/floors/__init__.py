"""The cheap models every network is compared with, and fused with.

``ridge``: ridge regression on pooled log-mel statistics; ``descriptors``: an RBF SVR on handcrafted clip
descriptors (the classical floor); ``fusion``: a network's outputs blended with the descriptor floor.
"""

from .descriptors import DescriptorFloor
from .fusion import Fusion
from .ridge import RidgeBaseline, pooled_stats

__all__ = ["DescriptorFloor", "Fusion", "RidgeBaseline", "pooled_stats"]
