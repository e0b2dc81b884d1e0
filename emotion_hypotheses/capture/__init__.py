"""Hook-based capture of what MusicGen computes for each (prompt, seed) sample.

- ``names``: the stable names and shapes of every capture point.
- ``hooks``: a context manager that registers torch hooks and always removes them.
- ``sampler``: per-sample seeded sampling, so a sample does not depend on its batch.
- ``codes``: the codebook delay pattern (step grid versus de-delayed frames).
- ``engine``: one batched generation with every capture point recorded.
"""
