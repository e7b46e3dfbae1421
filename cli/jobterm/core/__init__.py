"""Sans-I/O core: pure classes fed bytes, returning events. No sockets, no clock, no terminal.

Nothing under core/ may import asyncio, websockets, aiohttp, httpx, termios or keyring.
"""
