"""VTAB-1k: the 19 tasks, their groups and split sizes, and the list files' layout."""
