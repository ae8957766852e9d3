"""After-call notes and reply drafts, grounded in the transcript."""
