"""Start the reference server as a child process on a free port, and stop it cleanly.

Under every server (``ServerConfig.server``) the port is known before the server starts and no
other process can take it in between: the parent binds the listening socket and hands its file
descriptor to uvicorn (``--fd``) or hypercorn (``--bind fd://``); granian, which binds its own
sockets in each worker (``SO_REUSEPORT``), gets the port of a socket the parent holds bound with
``SO_REUSEPORT`` but not listening (it takes no connection) until the server stops.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from pushbench.core.server_argv import BACKLOG, TAKES_FD, Bind, server_command
from pushbench.core.server_config import ServerConfig, resolved_loop

__all__ = [
    "SERVER_MODULES",
    "ServerProcess",
    "ServerStartError",
    "loop_in_use",
    "missing_modules",
    "uvloop_installed",
]

#: What the reference server needs in this environment (pushbench's ``[server]`` extra).
SERVER_MODULES = ("target_app", "uvicorn", "fastapi", "pydantic_settings", "prometheus_client")
#: What each ASGI server needs besides: its own module, and gunicorn its uvicorn worker.
_SERVER_OWN_MODULES = {"gunicorn": ("gunicorn", "uvicorn_worker")}


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the launching process dies (Linux).

    A harness killed with SIGKILL (or a crashed test run) must not leave servers behind.
    """
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class ServerStartError(RuntimeError):
    """The server exited or did not become healthy in time; the message has its log's tail."""


def missing_modules(names: tuple[str, ...] = SERVER_MODULES) -> list[str]:
    """Which of ``names`` this interpreter cannot import (without importing any of them)."""
    return [name for name in names if importlib.util.find_spec(name) is None]


def uvloop_installed() -> bool:
    """Whether the server's interpreter (this one: servers run under ``sys.executable``) has
    uvloop, without importing it."""
    return not missing_modules(("uvloop",))


def loop_in_use(config: ServerConfig) -> str:
    """The event loop ``config`` runs under any server here (``auto`` resolved): what results
    record, so a figure never says ``auto`` of a loop that differed between servers."""
    return resolved_loop(config.loop, uvloop_installed())


class ServerProcess:
    """The reference server (or ``config.app``) under ``config.server``, as a context manager.

    Example:
        >>> with ServerProcess(ServerConfig(), log_path=Path("server.log")) as server:
        ...     print(server.url)
    """

    def __init__(
        self, config: ServerConfig, log_path: Path, startup_timeout_s: float = 30.0
    ) -> None:
        self.config = config
        self.log_path = log_path
        self.startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self.host = config.host
        self.port = config.port

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server (``https://`` when it serves TLS)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.config.tls else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://host:port`` of the running server (``wss://`` when it serves TLS)."""
        return "ws" + self.url.removeprefix("http")

    @property
    def pid(self) -> int:
        """The server's main process id (the parent of any workers)."""
        if self._process is None:
            raise RuntimeError("server not started")
        return self._process.pid

    def start(self) -> None:
        """Bind, spawn the server, and return once ``/healthz`` answers 200."""
        server = self.config.server
        missing = missing_modules((*SERVER_MODULES, *_SERVER_OWN_MODULES.get(server, (server,))))
        if missing:  # say so now, not as a traceback in the server's log
            raise ServerStartError(
                f"the reference server cannot run here: {', '.join(missing)} not installed "
                "(pip install 'pushbench[server]')"
            )
        sock, bind = self._bind()
        self._sock = sock
        self.port = sock.getsockname()[1]
        command = server_command(self.config, bind, uvloop_installed=uvloop_installed())
        env = {**os.environ, **self.config.environment()}
        env.update(command.environ(env))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command.argv(sys.executable),
                pass_fds=(sock.fileno(),) if bind.fd is not None else (),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal reaches us, not the server
                preexec_fn=_die_with_parent,
            )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise

    def _bind(self) -> tuple[socket.socket, Bind]:
        """The socket that fixes the port, and how the server is told to listen on it."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if not TAKES_FD[self.config.server]:
            # Held, never listening: the kernel gives no connection to a socket that does not
            # listen, and granian's workers join the port (they set SO_REUSEPORT too).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((self.host, self.config.port))
            return sock, Bind(self.host, sock.getsockname()[1])
        # uvicorn takes an --fd socket for a Unix socket and so never sets TCP_NODELAY on the
        # connections it accepts: Nagle + delayed ACK then add ~40 ms to small HTTP responses.
        # Linux copies TCP_NODELAY from the listening socket to every accepted one.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, self.config.port))
        sock.listen(BACKLOG)
        sock.set_inheritable(True)
        return sock, Bind(self.host, sock.getsockname()[1], fd=sock.fileno())

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        backoff = 0.005
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise ServerStartError(
                    f"server exited with code {self._process.returncode} during start-up:\n"
                    + self.log_tail()
                )
            if self._answers():
                return
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"server not healthy after {self.startup_timeout_s:.0f}s:\n" + self.log_tail()
                )
            # Readiness probe back-off: the condition is re-checked, the sleep only paces it.
            time.sleep(backoff)
            backoff = min(backoff * 2, 0.1)

    def _answers(self) -> bool:
        """Whether the app serves: ``health_path`` answers 200, or (no health path) anything
        answers ``GET /`` over HTTP, an error status included."""
        path = self.config.health_path
        try:
            with urllib.request.urlopen(
                self.url + (path or "/"), timeout=2, context=self._probe_tls()
            ) as response:
                return path is None or response.status == 200
        except urllib.error.HTTPError as exc:
            exc.close()
            return path is None  # an HTTP answer: the app is up, whatever it thinks of "/"
        except (OSError, urllib.error.URLError):
            return False

    def _probe_tls(self) -> ssl.SSLContext | None:
        """The readiness probe's TLS: not verified. This process gave the server its
        certificate; whether clients trust it is theirs to say, as a connection error naming
        the certificate rather than a server "not healthy" for 30 s."""
        if not self.config.tls:
            return None
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context

    def exited(self) -> bool:
        """Whether the server process has exited (crashed or was killed)."""
        return self._process is not None and self._process.poll() is not None

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM (graceful), then SIGKILL the whole process group; returns the exit code."""
        process, self._process = self._process, None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if process is None:
            return None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout_s)
        # Workers of a killed supervisor must not outlive it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        return process.returncode

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
