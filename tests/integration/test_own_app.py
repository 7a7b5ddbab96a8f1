"""``pushbench compare --app``: the user's own app under uvicorn, driven as its profile says;
what cannot be used is refused with one line and exit 2, before anything runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pushbench.core.schema import load_results
from tests.conftest import timeout

ROOT = Path(__file__).parents[2]
QUICK = ["--quick", "--duration", "0.6", "--warmup", "0.2"]


def _compare(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pushbench.cli.app", "compare", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout(120),
        stdin=subprocess.DEVNULL,
    )


def _only_run(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if p.is_dir() and p.name != "latest"]
    return run / "results.json"


def test_the_documented_chat_is_compared_from_its_pyproject_profile(tmp_path: Path) -> None:
    """No --profile: [tool.pushbench.target] of the pyproject.toml where pushbench runs."""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "chat"\n\n[tool.pushbench.target]\nname = "my-chat"\n'
        '[tool.pushbench.target.ws]\npath = "/ws/{client}"\n'
        '[tool.pushbench.target.publish.ws]\npath = "/ws/{client}"\nframe = "{token}"\n'
    )
    out = tmp_path / "out"
    result = _compare(
        "--app", "examples.docs_chat_app:app", "--app-dir", str(ROOT), *QUICK, "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = load_results(_only_run(out))
    assert [s.name for s in document.scenarios] == ["ws"]
    (ws,) = document.scenarios
    assert ws.params["profile"] == "my-chat"
    assert ws.delivered == ws.sent > 0
    assert ws.lost == ws.duplicated == ws.unexpected == 0
    assert ws.latency_us.p50 > 0
    assert document.config["app"] == "examples.docs_chat_app:app"
    # Options given explicitly win over --quick's.
    assert (document.config["duration_s"], document.config["warmup_s"]) == (0.6, 0.2)
    assert document.config["subscribers"] == 10  # --quick's, not given
    assert document.config["skipped"] == {
        t: f"profile 'my-chat' offers no {t} endpoint" for t in ("short-poll", "long-poll", "sse")
    }
    assert "short-poll not measured: profile 'my-chat' offers no short-poll endpoint" in (
        document.warnings
    )


BAD_TOML = 'name = "x"\n[ws]\npath = "/ws/{client}"\n[publish.ws]\npath = "/ws"\nframe = "hi"\n'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--app", "examples.no_such_app:app", "--profile", "tutorial"],
            'error: Error loading ASGI app. Could not import module "examples.no_such_app".',
        ),
        (
            ["--app", "examples.tutorial_app:nope", "--profile", "tutorial"],
            'error: Error loading ASGI app. Attribute "nope" not found in module '
            '"examples.tutorial_app".',
        ),
        (
            ["--app", "examples.docs_chat_app:app", "--profile", "BAD"],
            "error: BAD: publish.ws.frame: no {token} in 'hi': receivers would have nothing "
            "to find",
        ),
        (
            ["--app", "examples.docs_chat_app:app", "--profile", "tutorail"],
            "error: unknown profile 'tutorail': a TOML file, or one of reference, tutorial, "
            "fastapi-docs-chat",
        ),
        (
            ["--app", "examples.docs_chat_app:app"],
            "error: --app examples.docs_chat_app:app needs --profile: one of reference, "
            "tutorial, fastapi-docs-chat, a TOML file, or [tool.pushbench.target] in the app's "
            "pyproject.toml",
        ),
        (
            ["--app", "examples.tutorial_app:app", "--profile", "tutorial"],
            "error: profile 'tutorial' offers none of ws, short-poll, long-poll, sse (it offers "
            "echo): nothing to compare",
        ),
        (
            ["--app", "examples.docs_chat_app:app", "--profile", "fastapi-docs-chat",
             "--flavor", "asgi"],
            "error: --flavor chooses how the reference server serves; your app (--app/--profile) "
            "serves its own way",
        ),
    ],
)  # fmt: skip
def test_what_cannot_be_used_is_refused_in_one_line_with_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD_TOML)
    args = [str(bad) if a == "BAD" else a for a in args]
    out = tmp_path / "out"
    result = _compare(*args, "--out", str(out), cwd=ROOT)
    assert result.returncode == 2, result.stderr
    assert " ".join(result.stderr.split()) == message.replace("BAD", str(bad))
    assert not out.exists() or not any(out.iterdir()), "nothing runs, nothing is written"
