"""Near-duplicate detection: word-shingle hashing, MinHash signatures and banding LSH.

``shingles`` turns normalized paragraphs into sorted unique 32-bit shingle hashes, ``minhash``
turns those into signatures bit-identical to ``datasketch.MinHash`` and computes exact Jaccard
for verification, ``lsh`` bands signatures into candidate pairs and verifies them.
"""
