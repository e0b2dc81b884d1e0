"""Test where MusicGen encodes emotion, one level of the model at a time.

The package offers:

- ``prompts``: prompt sets (emotions, prompts, marked emotion words, template ids) read from TOML.
- ``thresholds``: the research note's predictions as thresholds read from TOML.
- ``models``: MusicGen loading by Hugging Face id or directory, and built-in random models.
- ``capture``: hook-based recording of what MusicGen computes for each (prompt, seed) sample.
- ``store``: the on-disk run store that keeps captures between runs and pytest-xdist workers.
- ``analysis``: the metrics each level uses (similarity, divergence, dynamics, factors, acoustics).
- ``stats``: probes, permutation nulls, multiple-comparison corrections and controls.
- ``plugin``: the pytest plugin with the command-line options, session fixtures and reports.
"""

__version__ = "0.1.0"
