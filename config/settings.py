"""One settings object for the whole process.

Precedence (highest first): explicit arguments, ``ASSIST_*`` environment variables
(nested with ``__``, e.g. ``ASSIST_ASR__BEAM_SIZE=3``), the TOML file named by
``ASSIST_CONFIG`` (or ``--config``), then the defaults below. The object is built once
in the CLI / app factory and passed down; no module reads the environment itself.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal
from urllib.parse import SplitResult, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

Language = Literal["ja", "en"]


_config_file: ContextVar[Path | None] = ContextVar("assist_config_file", default=None)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _PoolReplicas(_Section):
    """The replicas of a stage's model pool on Ray Serve (`pool = "ray"`; docs/SCALING.md)."""

    pool_replicas: int = Field(1, ge=1, description="Pool replicas, each with its own model")
    pool_cpus_per_replica: float = Field(1.0, ge=0.0, description="Ray CPUs reserved per replica")
    pool_gpus_per_replica: float = Field(0.0, ge=0.0, description="Ray GPUs per replica (fractions share one)")


def default_home() -> Path:
    return Path.home() / ".cache" / "agent-assist"


class AsrSettings(_PoolReplicas):
    """Streaming recognition; see asr/ for what each knob trades."""

    model: str = Field("whisper-base", description="Registry name, local CTranslate2 folder, or hub name")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str = Field("auto", description="auto | int8 | int8_float16 | float16 | float32")
    cpu_threads: int = Field(0, ge=0, description="0 = pick from the cores available")
    workers: int = Field(0, ge=0, description="Decode workers sharing the one model; 0 = auto")
    beam_size: int = Field(5, ge=1, le=10)
    partial_beam_size: int = Field(1, ge=1, le=10)
    endpointing_ms: int = Field(400, ge=100, le=5000)
    max_utterance_s: float = Field(15.0, ge=2.0, le=30.0)
    partial_interval_s: float = Field(1.0, ge=0.0, le=10.0, description="0 disables partials")
    vad_threshold: float = Field(0.4, gt=0.0, lt=1.0, description="Silero speech probability that starts an utterance; 0.5 missed or clipped telephone-band speech (docs/QUALITY.md, \"Final decode\")")
    glossary: bool = Field(True, description="Bias decoding with knowledge-base terms")
    vocab_correction: bool = Field(True, description="Fix misheard domain words in finals by reading (asr/vocab.py)")
    queue_size: int = Field(64, ge=1)
    max_backlog_s: float = Field(30.0, ge=1.0, description="Audio of one leg waiting for the VAD thread above which "
                                 "its socket is refused with `audio_backlog` (the server is too far behind)")
    batch_size: int = Field(8, ge=1, description="Finals batched across calls on GPU")
    final_context: Literal["full", "short"] = Field(
        "full", description="Audio context of finals: Whisper's whole 30 s window (accurate on every voice and "
        "channel, docs/QUALITY.md) or the utterance + context_pad_s (about a third of the CPU, a few CER points "
        "worse on unseen voices and telephone audio); partials always use the short context")
    final_window_s: float = Field(
        15.0, ge=10.0, le=30.0, description="Encoder window of full-context finals, grown to hold the previous "
        "utterance, the final and 3 s of padding (up to Whisper's 30 s). 15 s read as accurately as 30 s on dev "
        "and test at half the CPU of a final (docs/QUALITY.md, \"Final window\")")
    context_pad_s: float = Field(5.0, ge=3.0, le=25.0, description="Silence after the utterance in short-context "
                                 "decodes (partials, and finals with final_context = short)")
    final_context_audio_s: float = Field(
        10.0, ge=0.0, le=20.0, description="Full-window finals hear up to this much of the leg's previous "
        "utterance before them, its final text forced as the decoder's prefix (asr/context.py); 0 decodes each "
        "final alone. A leg's finals are then decoded one after another")
    uncertain_below: float | None = Field(
        None, ge=0.0, le=1.0, description="A number in a final whose decoded pieces have a probability under this "
        "is marked uncertain (underlined 要確認, never stated as fact in the notes); unset: the value calibrated on "
        "the dev split (summarize.uncertain.DEFAULT_THRESHOLD, docs/QUALITY.md), 0: off")
    pool: Literal["local", "ray"] = Field(
        "local", description="Where decodes run: in this process, or in the shared recognition pool on Ray Serve "
        "at pool_address (asr/serve_pool.py, docs/SCALING.md); the worker keeps VAD and legs either way")
    pool_address: str = Field("http://127.0.0.1:8100/asr", description="The pool's Serve HTTP route; "
                              "`python -m assist.asr_pool` listens on its port and path")
    pool_batch_size: int = Field(8, ge=1, le=64, description="Most finals, from any worker, one replica decodes "
                                 "in one batch (@serve.batch)")
    pool_batch_wait_s: float = Field(0.02, ge=0.0, le=1.0, description="Longest a replica waits for more "
                                     "finals before decoding a batch that is not full")
    pool_timeout_s: float = Field(60.0, gt=0.0, description="Longest a worker waits for one pool decode")


class RetrievalSettings(_PoolReplicas):
    embedder: str = Field("e5-small+use-multilingual", description="Registry name or local sentence-transformers "
                          "folder; `a+b` fuses models (docs/QUALITY.md: the fusion ranks best of the MIT/Apache ones)")
    dense_weight: float = Field(1.0, ge=0.0)
    # Defaults measured on eval/data (docs/QUALITY.md): dense + a little character-bigram evidence won;
    # Sudachi BM25 did not add to it there, but stays available for KBs full of codes and plan names.
    bm25_weight: float = Field(0.0, ge=0.0)
    bigram_weight: float = Field(0.2, ge=0.0)
    reading_weight: float = Field(0.2, ge=0.0, description="BM25 over bigrams of the SudachiPy reading (サイフ = 財布)")
    sudachi_mode: Literal["A", "B", "C"] = Field("C", description="SudachiPy split mode for BM25 words")
    rrf_k: int = Field(60, ge=1)
    top_k: int = Field(3, ge=1, le=20)
    keep_topic_cards: bool = Field(True, description="A follow-up within the topic on screen leaves its cards "
                                   "(assist/topic.py keeps_cards): no junk over good cards, at the price of a "
                                   "follow-up that asks for something new (docs/QUALITY.md); off: every request "
                                   "turn's cards replace the screen")
    join_gap_s: float = Field(2.0, ge=0.0, le=30.0, description="A customer's finals split by pauses up to this "
                              "long, with no agent words between, are searched as one turn (assist/customer_turns.py); "
                              "0: every final searches alone")
    rerank: bool = Field(True, description="Second stage over the top candidates with the embedder's calibrated "
                         "model (retrieval/calibration.py); off, or for an uncalibrated embedder: fused order")
    rerank_depth: int = Field(20, ge=1, le=100, description="First-stage candidates the second stage re-scores")
    min_score: float | None = Field(
        None, description="Abstain below this confidence (top hit's dense cosine; fused score without dense). "
        "Unset: the embedder's calibrated value (retrieval.embedders.CALIBRATED_MIN_SCORE), 0 for other models")
    abstain: float | None = Field(
        None, ge=0.0, le=1.0, description="The second stage's abstain cut on its probability that the top hit answers "
        "the turn. Unset: the embedder's calibrated cut (retrieval/calibration.py)")
    hnsw_above: int = Field(50_000, ge=1, description="Use HNSW instead of a flat index above this many passages")
    chunk_chars: int = Field(400, ge=50)
    threads: int = Field(1, ge=1)
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where the sentence-transformers embedders run: auto = CUDA when torch sees a GPU (an "
        "embeddings pool replica with pool_gpus_per_replica), else the CPU; use-multilingual always runs on the "
        "CPU (numpy)")
    pool: Literal["local", "ray"] = Field(
        "local", description="Where texts are embedded: in this process, or in the shared embeddings pool on Ray "
        "Serve at pool_address (retrieval/serve_pool.py, docs/SCALING.md); the index and the search stay here")
    pool_address: str = Field("http://127.0.0.1:8100/embed", pattern=r"^https?://[^/]+", description="The pool's "
                              "Serve HTTP route; `python -m assist.asr_pool --pools embed` listens on its port and path")
    pool_batch_size: int = Field(16, ge=1, le=256, description="Most query texts, from any worker, one replica "
                                 "embeds in one call (@serve.batch)")
    pool_batch_wait_s: float = Field(0.02, ge=0.0, le=1.0, description="Longest a replica waits for more "
                                     "queries before embedding a batch that is not full (docs/SCALING.md: "
                                     "0.005 gave batches of 1.2 texts under 4 busy threads, 0.02 of 4)")
    pool_timeout_s: float = Field(30.0, gt=0.0, description="Longest a worker waits for one pool answer")


class SummarizeSettings(_Section):
    backend: Literal["extractive", "openai", "transformers"] = "extractive"
    openai_base_url: str | None = None
    openai_model: str | None = None
    openai_api_key: str | None = None
    transformers_model: str | None = Field(None, description="Local folder of a chat model")
    timeout_s: float = Field(20.0, gt=0)
    reply_backend: Literal["template", "openai"] = Field(
        "template", description="Reply drafts: the template, or a rewrite by openai_base_url / openai_model that "
        "is kept only when the cited article supports every sentence")
    reply_timeout_s: float = Field(3.0, gt=0, description="Longest wait for a reply rewrite before the template "
                                   "is sent (the call's next draft waits behind it)")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_calls: int = Field(8, ge=1)
    subscriber_queue: int = Field(256, ge=8)
    max_frame_bytes: int = Field(64_000, ge=320)
    max_json_bytes: int = Field(65_536, ge=1024)
    max_upload_bytes: int = Field(20_000_000, ge=1024, description="Largest KB import upload (the only route "
                                  "with more than max_json_bytes)")
    max_import_rows: int = Field(10_000, ge=1, description="Most articles one KB import may hold")
    preload_models: bool = Field(True, description="Load models at start-up (readyz waits for them)")
    worker_id: str | None = Field(
        None, description="This worker's name among the workers sharing one database: recorded on the calls it "
        "runs and beaten as its heartbeat (1-64 of A-Z a-z 0-9 . _ -). Give each worker a stable one so a restart "
        "takes back its own calls at once; unset: hostname-pid-random, new at every start (docs/SCALING.md)")
    heartbeat_s: float = Field(2.0, gt=0.0, le=60.0, description="How often a worker beats its heartbeat and "
                               "looks for dead workers' calls to interrupt")
    worker_ttl_s: float = Field(10.0, gt=0.0, le=600.0, description="A worker whose heartbeat is older than this "
                                "is dead: its live calls are marked interrupted and their notes written. At least "
                                "twice heartbeat_s")

    @field_validator("worker_id", mode="after")
    @classmethod
    def _worker_id(cls, v: str | None) -> str | None:
        if v is not None and not _WORKER_ID.fullmatch(v):
            raise PydanticCustomError("bad_worker_id", "server.worker_id must be 1-64 of A-Z a-z 0-9 . _ - "
                                      "starting with a letter or digit")
        return v

    @model_validator(mode="after")
    def _ttl(self) -> ServerSettings:
        if self.worker_ttl_s < 2 * self.heartbeat_s:  # one late beat must not look like a death
            raise PydanticCustomError("bad_worker_ttl", "server.worker_ttl_s must be at least twice "
                                      "server.heartbeat_s")
        return self


_WORKER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class AuthSettings(_Section):
    """Who may use the service; see assist/auth.py and the README's "Security" section."""

    mode: Literal["keys", "open"] = Field("keys", description="keys: bearer API keys with roles; "
                                          "open: no authentication (local demos on 127.0.0.1 only)")
    allow_open_remote: bool = Field(False, description="Permit open mode on a non-loopback host (unsafe)")
    ws_auth_timeout_s: float = Field(5.0, gt=0, le=60, description="Wait for a websocket's auth message")


class SecuritySettings(_Section):
    cors_origins: list[str] = Field(default_factory=list,
                                    description="Origins allowed to call the API cross-site; empty = same-origin only")
    allowed_hosts: list[str] = Field(default_factory=list, description="Host names served in open mode besides "
                                     "loopback (e.g. a tunnel's name); see assist/origin_guard.py")
    hsts: bool = Field(False, description="Send Strict-Transport-Security (behind TLS only)")
    max_messages_per_s: float = Field(400.0, gt=0, description="Sustained websocket messages per second per socket")
    message_burst: int = Field(2000, ge=1, description="Websocket messages allowed above the sustained rate")
    max_call_s: float = Field(4 * 3600.0, gt=0, description="Longest call (wall clock or audio) before it is "
                              "ended (`call_too_long`); a timer, so it fires even when nothing arrives")
    max_audio_speed: float = Field(1.5, ge=1.0, description="Sustained audio per leg, as a multiple of real time "
                                   "(a token bucket on samples); faster streams get `audio_too_fast`")
    audio_burst_s: float = Field(5.0, ge=1.0, description="Seconds of audio a leg may send ahead of the sustained "
                                 "speed (network catch-up); at least one frame's length")
    start_timeout_s: float = Field(10.0, gt=0, description="An audio socket that sends no `start` within this is "
                                   "closed (`start_timeout`)")
    idle_audio_s: float = Field(30.0, gt=0, description="A started audio socket that sends no audio for this long "
                                "is ended (`idle_timeout`); telephony and the widget stream silence too")
    max_calls_per_key: int = Field(4, ge=1, description="Live calls one API key may have open at once "
                                   "(`too_many_calls_for_key`); open mode has no keys and only `server.max_calls`")


class TwilioSettings(_Section):
    """Twilio Media Streams (``WS /twilio/media``); see docs/SECURITY.md."""

    auth_token: SecretStr | None = Field(None, description="The account's auth token: when set, the handshake's "
                                         "X-Twilio-Signature must verify")
    stream_url: str | None = Field(None, description="The wss:// URL configured in <Stream url>, when a proxy "
                                   "rewrites Host (default: rebuilt from the request)")


MaskedEntity = Literal["card", "phone", "email", "dob", "mynumber", "address"]


def _every_entity() -> list[MaskedEntity]:
    return ["card", "phone", "email", "dob", "mynumber", "address"]


class PrivacySettings(_Section):
    mask_entities: list[MaskedEntity] = Field(
        default_factory=_every_entity,
        description="Personal data masked before anything is stored, logged, summarized or sent")


class AlertsSettings(_Section):
    """Live alerts from rules (assist/alerts/, docs/ALERTS.md)."""

    enabled: bool = Field(True, description="Evaluate the alert rules on every final and send `alert` and "
                          "`sentiment` events")
    rules_file: Path | None = Field(None, description="A TOML rules file, re-read when it changes; unset: the "
                                    "shipped assist/alerts/default_rules.toml. An unusable file at start-up fails "
                                    "readiness (`bad_alert_rules`); a bad edit later keeps the previous rules")
    reload_check_s: float = Field(2.0, gt=0.0, le=300.0, description="How often the rules file's mtime is checked")
    checklists_file: Path | None = Field(None, description="A TOML guidance-checklists file (the shape of the shipped "
                                         "assist/checklists.toml); unset: the shipped file. Read at start-up: an "
                                         "unusable file fails readiness (`checklist_invalid` / "
                                         "`checklist_unreadable`, every problem with its line)")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSIST_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    home: Path = Field(default_factory=default_home, description="Cache, models, database")
    allow_downloads: bool = Field(False, description="Let a configured hub name be fetched")
    log_level: str = "INFO"
    log_json: bool = False
    language: Language = "ja"
    redis_url: str | None = Field(
        None, description="redis://[:password@]host:port/db, rediss://… or unix:///path: call events, the supervisor "
        "wall, KB changes and key revocations shared by every worker (docs/SCALING.md); unset: one process, in memory")
    database_url: str | None = Field(
        None, description="postgresql://user:password@host:5432/db: calls, keys and the knowledge base in one "
        "PostgreSQL database shared by every worker (docs/SCALING.md); unset: the SQLite files in home")
    asr: AsrSettings = AsrSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    summarize: SummarizeSettings = SummarizeSettings()
    server: ServerSettings = ServerSettings()
    auth: AuthSettings = AuthSettings()
    security: SecuritySettings = SecuritySettings()
    privacy: PrivacySettings = PrivacySettings()
    twilio: TwilioSettings = TwilioSettings()
    alerts: AlertsSettings = AlertsSettings()

    @field_validator("home", mode="after")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()

    @field_validator("redis_url", mode="after")
    @classmethod
    def _redis_url(cls, v: str | None) -> str | None:
        return _check_redis_url(v)

    @field_validator("database_url", mode="after")
    @classmethod
    def _database_url(cls, v: str | None) -> str | None:
        return _check_database_url(v)

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def db_path(self) -> Path:
        return self.home / "assist.db"

    @property
    def kb_path(self) -> Path:
        """The knowledge base the service and ``assist kb`` share, beside the call database."""
        return self.home / "knowledge.db"

    @property
    def calls_db(self) -> str | Path:
        """Where calls and API keys are stored: ``database_url``, else the SQLite file ``db_path``."""
        return self.database_url or self.db_path

    @property
    def kb_db(self) -> str | Path:
        """Where the knowledge base is stored: ``database_url``, else the SQLite file ``kb_path``."""
        return self.database_url or self.kb_path

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file.get() or os.environ.get("ASSIST_CONFIG")
        if config_file:
            path = Path(config_file).expanduser()
            if not path.is_file():
                raise ConfigFileError(f"ASSIST_CONFIG points to {path}, which is not a file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def _split_url(url: str | None, name: str) -> tuple[str, SplitResult] | None:
    """``url`` stripped and split, ``None`` when unset, or the error ``bad_{name}`` (a port that is not a number)."""
    if url is None or not url.strip():
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise PydanticCustomError(f"bad_{name}", f"{name} is not a URL: {{error}}", {"error": str(exc)}) from exc
    return url, parts


def _check_redis_url(url: str | None) -> str | None:
    """A usable Redis URL, or the error ``bad_redis_url``: refused at start-up, not at the first event."""
    if (split := _split_url(url, "redis_url")) is None:
        return None
    url, parts = split
    if parts.scheme == "unix":
        ok = bool(parts.path)
    else:
        ok = parts.scheme in ("redis", "rediss") and bool(parts.hostname) and (
            parts.path in ("", "/") or parts.path[1:].isascii() and parts.path[1:].isdigit())
    if not ok:
        raise PydanticCustomError(
            "bad_redis_url", "redis_url must look like redis://host:6379/0, rediss://host:6380/0 or "
            "unix:///run/redis.sock")
    return url


def _check_database_url(url: str | None) -> str | None:
    """A PostgreSQL URL, or the error ``bad_database_url`` (its message never repeats the URL: it holds a password)."""
    if (split := _split_url(url, "database_url")) is None:
        return None
    url, parts = split
    if parts.scheme not in ("postgresql", "postgres"):
        raise PydanticCustomError(
            "bad_database_url", "database_url must be a PostgreSQL URL such as "
            "postgresql://assist:password@db:5432/assist; leave it unset for the SQLite files in home")
    return url


class ConfigFileError(ValueError):
    """The configured TOML file is missing; raised instead of silently using defaults."""


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build the settings; ``config_file`` wins over ``ASSIST_CONFIG``."""
    token = _config_file.set(Path(config_file) if config_file is not None else None)
    try:
        return Settings(**overrides)
    finally:
        _config_file.reset(token)
