"""Domain rules without I/O: event models, GrowthExperiments eligibility, the quiet period."""
