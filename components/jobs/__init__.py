"""Event-driven and batch jobs beside serving: KEDA, Kueue, triggers and the training identity."""
