"""One verb per module. Each exposes `register(app: typer.Typer) -> None`."""
