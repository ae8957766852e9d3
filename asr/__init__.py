"""Streaming speech recognition for call legs (faster-whisper + Silero VAD)."""
