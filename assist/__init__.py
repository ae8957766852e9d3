"""Live agent-assist service: FastAPI app, websocket protocol, call sessions, widget."""

__version__ = "0.1.0"
