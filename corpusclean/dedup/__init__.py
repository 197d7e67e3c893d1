"""Duplicates across the corpus (phase B), one algorithm per module, each readable top to bottom.

``exact``: equal xxh64 of the normalized text. ``shingles``: normalized paragraphs to sorted unique
32-bit shingle hashes. ``minhash``: signatures bit-identical to ``datasketch.MinHash`` and exact
Jaccard/containment for verification. ``lsh``: banding of signatures into verified near-duplicate
pairs. ``containment``: quotes re-wrapped in longer paragraphs, through shared shingles.
``templates``: a site's own repeated chrome. ``clusters``: connected components and canonical copies.
``phase_b``: the pass that runs them in order over phase-A tables.
"""
