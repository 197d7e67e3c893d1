"""Readers: find input files, split them into page records, decode their bytes."""
