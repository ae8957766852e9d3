"""Prometheus metrics of the live service (served at ``/metrics``).

Defined once per process in the default registry; several apps in one process (tests) share them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 10.0)

ACTIVE_CALLS = Gauge("assist_active_calls", "Calls currently live")
CALLS_TOTAL = Counter("assist_calls_total", "Calls started", ["source"])
CALLS_REJECTED = Counter("assist_calls_rejected_total", "Calls refused", ["code"])
SPEECH_TO_FINAL = Histogram("assist_speech_end_to_final_seconds", "End of speech to final transcript",
                            ["leg"], buckets=_LATENCY_BUCKETS)
FINAL_TO_SUGGESTIONS = Histogram("assist_final_to_suggestions_seconds", "Final transcript to suggestions event",
                                 buckets=_LATENCY_BUCKETS)
SPEECH_TO_SUGGESTIONS = Histogram("assist_speech_end_to_suggestions_seconds",
                                  "End of customer speech to suggestions event", buckets=_LATENCY_BUCKETS)
SUMMARY_SECONDS = Histogram("assist_summary_seconds", "Call end to after-call notes", buckets=_LATENCY_BUCKETS)
EVENTS_TOTAL = Counter("assist_events_total", "Events published", ["type"])
PARTIALS_DROPPED = Counter("assist_partials_dropped_total", "Partial transcripts not sent (interim_results off)")
SUBSCRIBERS_LAGGED = Counter("assist_subscribers_lagged_total", "Event subscribers dropped for falling behind")
FRAME_ERRORS = Counter("assist_frame_errors_total", "Rejected inbound frames", ["code"])
QUEUE_DEPTH = Gauge("assist_queue_depth", "Items waiting", ["queue"])
ASR_LAG = Gauge("assist_asr_lag_seconds", "Recognition lag of the slowest live leg")
ASR_QUEUE = Gauge("assist_asr_queue_depth", "Utterances waiting for a decode worker", ["kind"])
ASR_DROPPED_PARTIALS = Gauge("assist_asr_dropped_partials", "Partial decodes dropped as stale since start-up")
ASR_VOCAB_CORRECTIONS = Counter("assist_asr_vocab_corrections_total", "Words of finals replaced by asr/vocab.py")
CUSTOMER_TURNS = Counter("assist_customer_turns_total", "Customer finals by kind (only requests and complaints search)",
                         ["kind"])
