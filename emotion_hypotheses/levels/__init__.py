"""Measurements per level of the verdict, computed from a ``SuiteSession``'s prompts and captures."""
