"""List files (``path label`` lines) and the checks the list benchmarks' checkers share."""
