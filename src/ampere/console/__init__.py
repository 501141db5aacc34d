"""The staff console: where agents, clerks and cashiers work (issue 18 builds its screens)."""
