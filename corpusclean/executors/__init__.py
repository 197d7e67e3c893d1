"""Executors decide *where* phase A runs (this process, a process pool); the stages stay the same."""
