"""Hybrid knowledge retrieval: dense (FAISS) + lexical (BM25), fused."""
