"""QA entry points: python -m eval asr|retrieval|summary|calls|report|bench-*."""
