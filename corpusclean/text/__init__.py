"""Text-level stages: normalization and paragraph segmentation."""
