"""Writers: tables and the run manifest, written so that a reader never sees half a file."""
