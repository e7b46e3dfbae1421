"""Adapters around the core: the WebSocket, the local terminal, and the session loops."""
