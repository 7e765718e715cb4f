"""Deletion over training time: deletion schedules ε(t), their flows and criterion, the Figure-4 problem, and
unlearning (Descend-to-Delete, Rewind-to-Delete) against retraining."""
