"""Deleting one point from a trained model: the influence functions and their solvers, the exact responses
(LOO, proximal, PBRF, Newton), the ε-path and homotopy, the error decomposition, the one-deletion analysis."""
