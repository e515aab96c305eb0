"""Spark jobs of the pipeline. `jobs.transform` is the streaming CDC transform."""
