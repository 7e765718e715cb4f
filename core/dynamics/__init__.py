"""Deletion over training time (docs/science.md §4–§5):

- schedule: deletion schedules ε(t) (steps, decays, drawn), their JSON and text forms, the step grid;
- quadratic: quadratic families (linear models, the notes' H = I model) and their exact flows;
- flow: the batched gradient flow dθ/dt = −∇L_{w(ε(t))}(θ) of (schedule × θ_0), by GD or RK4;
- criterion: the LOO target θ*_{−j} and the criteria 𝓔, 𝓔_f;
- scans: 𝓔 over step times and linear-decay end points;
- analysis: user schedules and scans from one loop, the best schedule per θ_0;
- figure4: the notes' Figure-4 linear problem, vector fields and phase portraits;
- unlearn: unlearning (Descend-to-Delete, Rewind-to-Delete) against retraining.
"""
