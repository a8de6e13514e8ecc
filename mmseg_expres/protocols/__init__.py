"""What the benchmark protocol tools (tools/vtab/, tools/fewshot/) share."""
