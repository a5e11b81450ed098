"""``heplearn dqm serve``: the shifter dashboard of a DQM history, in the browser."""

from __future__ import annotations

import signal
import socket
import threading
from pathlib import Path

import typer

from heplearn.cli.dqm_online import _stop_on_sigterm
from heplearn.errors import ConfigError, DataError

__all__ = ["serve_command"]


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port), or one clear error (address in use, unknown host)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise ConfigError(
            f"--host {host}", "heplearn dqm serve", f"unknown address ({err.strerror})",
            "give an IP address or a host name of this machine",
        ) from None  # fmt: skip
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise ConfigError(
            f"--host {host} --port {port}",
            "heplearn dqm serve",
            f"cannot listen there ({err.strerror})",
            "pick another --port (another dashboard may be running)",
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve_command(
    history: Path = typer.Option(..., "--history", help="History written by 'dqm watch'."),
    maps: Path | None = typer.Option(
        None, "--maps", help="Only map files under this folder are read (default: any recorded)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8050, "--port", min=1, max=65535, help="Port to listen on."),
    token: str | None = typer.Option(
        None, "--token", help="Every request must carry it (needed for a non-local --host)."
    ),
    token_file: Path | None = typer.Option(
        None, "--token-file", help="File whose first line is the token (kept out of ps)."
    ),
    read_only: bool = typer.Option(
        False, "--read-only", help="Refuse certification (a control-room display)."
    ),
    dataset: str | None = typer.Option(
        None, "--dataset", help="HDF5 dataset of the maps, as given to 'dqm watch'."
    ),
) -> None:
    """Serve the dashboard of a DQM history: runs, lumisections, maps, certification.

    Open the printed address in a browser. Pages update by themselves as 'dqm watch'
    records verdicts; the JSON API behind them is documented at /docs. Binding an
    address other than 127.0.0.1/localhost needs --token or --token-file. The server
    writes nothing but the certification decisions made on it (into the history's
    overrides). Ctrl-C stops it.

    Examples:

      heplearn dqm serve --history history.sqlite

      heplearn dqm serve --history history.sqlite --maps incoming/ --read-only

      heplearn dqm serve --history history.sqlite --host 0.0.0.0 --token-file token.txt
    """
    from heplearn.dqm.dashboard.settings import LOOPBACK, Settings, check_bind, read_token
    from heplearn.dqm.history import open_history

    open_history(history).close()  # not a history: one error line, before anything listens
    secret = read_token(token, token_file)
    check_bind(host, secret)
    if maps is not None and not maps.is_dir():
        why = "it is a file" if maps.exists() else "no such folder"
        raise DataError("maps folder not found", str(maps), why, "give the folder of the map files")

    import uvicorn

    from heplearn.dqm.dashboard import create_app

    local = host.strip("[]").lower() in LOOPBACK
    settings = Settings(
        history=history,
        maps=maps,
        token=secret,
        read_only=read_only,
        dataset=dataset,
        loopback_only=local,
    )
    sock = _bind(host, port)
    shown = f"[{host}]" if ":" in host else host
    mode = ", read-only" if read_only else ""
    guarded = ", token required" if secret else ""
    typer.echo(f"serving {history} on http://{shown}:{port}/ (Ctrl-C stops{mode}{guarded})")
    config = uvicorn.Config(
        create_app(settings), log_level="warning", access_log=False, timeout_graceful_shutdown=5
    )
    # uvicorn stops gracefully on SIGINT/SIGTERM, then raises the signal again: the same
    # clean exit for both, as dqm watch (systemd stops a service with SIGTERM).
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm) if main_thread else None
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    typer.echo("stopped")
