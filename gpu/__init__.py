"""Device choice and cross-call batching for GPU inference."""
