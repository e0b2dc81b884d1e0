"""Metrics that each level of the verdict computes, as pure functions on numpy arrays.

Every function takes arrays and labels (one emotion string per sample) and nothing about models:

- ``groups``: label checks and between-emotion versus within-emotion pair summaries.
- ``similarity``: pooling, cosine matrices, emotion-mean similarity and its effect size.
- ``tokens``: codebook histograms, Jensen-Shannon divergence and token sequence overlap.
- ``attention``: cross-attention mass on emotion words and divergence between attention maps.
- ``dynamics``: velocity, temporal variance and per-step similarity of residual-stream trajectories.
- ``compositional``: factor spaces (factor analysis, PCA) and cluster separation in them.
- ``acoustic``: loudness, spectral centroid, onset rate, tempo and major/minor mode of waveforms.

``acoustic`` imports librosa, which takes seconds to import, so import it only where needed.
"""
