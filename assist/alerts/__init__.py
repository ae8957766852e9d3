"""Live alerts from rules: a rules file (``rules.py``, hot-reloaded), lexicons and a sentiment scorer
(``lexicon.py``, ``sentiment.py``), a pure per-call engine (``engine.py``), paraphrase matching with the
embedder (``paraphrase.py``) and the glue that feeds a live call's finals to them (``live.py``).
Format and defaults: docs/ALERTS.md."""
