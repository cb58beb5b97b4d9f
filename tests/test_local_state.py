"""The local rehearsal's state and failures (docs/local-deploy.md): one emulator per checkout however many commands run
at once, a state file that is never half-written and recovers when damaged, and one-line messages where a traceback
used to be."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from local_aws import PORT_TAKEN, rehearsal
from tests.conftest import REPO_ROOT


@pytest.fixture
def state_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(rehearsal, "STATE_DIR", tmp_path)
    monkeypatch.setattr(rehearsal, "STATE_FILE", tmp_path / "moto.json")
    return tmp_path / "moto.json"


def test_two_deploys_at_once_start_one_emulator(state_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second deploy waits for the first and reuses its emulator: nothing runs that the state file does not name."""
    started: list[str] = []

    def start(region: str, log_path: Path, **kwargs: Any) -> rehearsal.Emulator:
        started.append(region)
        time.sleep(0.5)  # a real start takes seconds: long enough for the other command to look at the state file
        return rehearsal.Emulator(pid=999_999, port=1, region=region, standin_port=2)

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt  # ends each deploy once the emulator is recorded, as a Ctrl-C would

    monkeypatch.setattr(rehearsal, "start_emulator", start)
    monkeypatch.setattr(rehearsal, "is_up", lambda emulator: emulator.pid == 999_999)
    monkeypatch.setattr(rehearsal, "deploy", interrupted)
    monkeypatch.setattr(rehearsal, "hosting_refusals", lambda spec, emulator: [])  # nothing is deployed to refuse
    monkeypatch.setattr(rehearsal, "migration_findings", lambda spec, emulator: [])
    statuses: list[int] = []
    threads = [threading.Thread(target=lambda: statuses.append(rehearsal.main(["deploy", "mistral"]))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [130, 130]
    assert started == ["us-east-1"], "the second deploy started an emulator of its own"


def test_a_state_file_is_never_half_written(state_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails midway (a full disk, a kill) leaves the previous record, not a truncated one."""
    before = rehearsal.State(pid=42, port=1, region="us-east-1")
    rehearsal.write_state(before)
    real_write_text = Path.write_text

    def disk_full(path: Path, text: str, *args: Any, **kwargs: Any) -> int:
        real_write_text(path, text[: len(text) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)
    with pytest.raises(OSError, match="No space left"):
        rehearsal.write_state(rehearsal.State(pid=43, port=2, region="us-east-1", stacks={"llm-chat": "x"}))
    monkeypatch.undo()
    monkeypatch.setattr(rehearsal, "STATE_FILE", state_file)
    assert rehearsal.read_state() == before


def test_a_damaged_state_file_without_an_emulator_is_set_aside(state_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state_file.write_text('{"pid": 12, "po')
    assert rehearsal.main(["status"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "No local AWS emulator is running (./tasks.sh deploy-local starts one).\n"
    assert f"warning: {state_file} was damaged (JSONDecodeError: " in captured.err
    assert "no emulator of this checkout is running: nothing to recover" in captured.err
    assert (state_file.parent / "moto.json.damaged").read_text() == '{"pid": 12, "po'
    assert not state_file.exists()


@pytest.mark.parametrize("damage", ["", "[]", '{"pid": "12", "port": 1, "region": "us-east-1"}', '{"pid": 12}'])
def test_every_kind_of_damage_is_recovered(state_file: Path, damage: str, capsys: pytest.CaptureFixture[str]) -> None:
    state_file.write_text(damage)
    assert rehearsal.read_state() is None
    assert "was damaged" in capsys.readouterr().err


def test_a_damaged_state_file_is_recovered_from_the_running_emulator(state_file: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """A truncated .local/moto.json used to make status-local, destroy-local and evaluate --local traceback, leaving
    the emulator running with no command able to stop it. The emulator's command line names the state file."""
    emulator = rehearsal.start_emulator("eu-west-1", state_file.parent / "moto.log")
    try:
        rehearsal.write_state(rehearsal.State(emulator.pid, emulator.port, emulator.region, standin_port=emulator.standin_port))
        state_file.write_text(state_file.read_text()[:20])
        assert rehearsal.main(["status"]) == 0
        captured = capfd.readouterr()
        assert f"Local AWS emulator at {emulator.url}, region eu-west-1, pid {emulator.pid}" in captured.out
        assert f"recovered the emulator at {emulator.url} (pid {emulator.pid}) with no stack from its process" in captured.err
        assert rehearsal.read_state() == rehearsal.State(
            emulator.pid, emulator.port, "eu-west-1", standin_port=emulator.standin_port
        ), "the recovered record was written back"
        state_file.write_text("{")
        assert rehearsal.main(["destroy"]) == 0
        assert "Stopped the local AWS emulator." in capfd.readouterr().out
        assert not rehearsal.is_up(emulator)
    finally:
        rehearsal.stop_emulator(emulator)


def test_a_taken_port_is_a_message_and_the_rehearsal_picks_another(state_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = subprocess.run(
            [sys.executable, "-m", "local_aws.server", "--port", str(port)], cwd=REPO_ROOT, capture_output=True, text=True
        )
        assert (server.returncode, server.stdout) == (PORT_TAKEN, "")
        assert server.stderr == f"error: port {port} of 127.0.0.1 is taken by another program\n  fix: choose another --port\n"

        # free_port()'s answer can be taken before the server binds it: the rehearsal then tries fresh ports.
        ports = iter([port])
        real_free_port = rehearsal.free_port
        monkeypatch.setattr(rehearsal, "free_port", lambda: next(ports, None) or real_free_port())
        emulator = rehearsal.start_emulator("us-east-1", state_file.parent / "moto.log")
        try:
            assert emulator.port != port and rehearsal.is_up(emulator)
        finally:
            rehearsal.stop_emulator(emulator)


def test_run_local_names_a_misspelt_command(capsys: pytest.CaptureFixture[str]) -> None:
    state = rehearsal.State(pid=1, port=1, region="us-east-1", standin_port=2)
    assert rehearsal.run_command(state, ["pyhton", "-V"]) == 127
    assert capsys.readouterr().err == (
        "error: run-local: pyhton: command not found\n"
        "  fix: did you mean python? e.g. ./tasks.sh run-local python -m llm_client ENDPOINT 'Hello'\n"
    )


@pytest.mark.parametrize(
    "command",
    [
        ["local_aws.rehearsal", "status"],
        ["planner", "--requests-per-hour", "100"],
        ["migration", "plan", "--deployment", "deployments/chat.yaml"],
    ],
)
def test_a_reader_that_goes_away_ends_the_command_quietly(command: list[str], state_file: Path) -> None:
    """`./tasks.sh status-local | head` (or another CLI of the project piped into head) ended in BrokenPipeError."""
    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first line is written
    try:
        result = subprocess.run([sys.executable, "-m", *command], cwd=REPO_ROOT, stdout=write, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (128 + signal.SIGPIPE, "")


def test_ctrl_c_stops_the_cli_and_every_process_it_started(tmp_path: Path) -> None:
    """A Ctrl-C during `cdk deploy` left the CLI (and the app it runs) deploying with nobody watching."""
    script = "import subprocess, time; child = subprocess.Popen(['sleep', '60']); print(child.pid, flush=True); time.sleep(60)"

    def interrupt_after_first_line(lines: Any) -> Any:
        for line in lines:
            grandchildren.append(int(line))
            raise KeyboardInterrupt
        return iter(())

    grandchildren: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        rehearsal.run_streamed([sys.executable, "-c", script], dict(os.environ), interrupt_after_first_line)
    (grandchild,) = grandchildren
    for _ in range(50):
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(grandchild, signal.SIGKILL)
        pytest.fail("the CLI's child process kept running")


def test_a_deployment_files_region_is_checked_before_an_emulator_starts(
    state_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """deploy-local read the region from -c region= only: a deployment file's unknown region started an emulator and
    failed later on containers.yaml. The spec (flags or file) is now the only source of the region."""
    monkeypatch.setattr(rehearsal, "start_emulator", lambda *args, **kwargs: pytest.fail("an emulator was started"))
    deployment = tmp_path / "chat.yaml"
    deployment.write_text((REPO_ROOT / "deployments/chat.yaml").read_text().replace("region: us-east-1", "region: us-east-9"))
    assert rehearsal.main(["deploy", "-c", f"deployment={deployment}"]) == 2
    assert capsys.readouterr().err.startswith(f"error: {deployment}: region: 'us-east-9' is not a known AWS region\n")

    deployment.write_text((REPO_ROOT / "deployments/chat.yaml").read_text().replace("region: us-east-1", "region: eu-west-1"))
    assert rehearsal.main(["deploy", "-c", f"deployment={deployment}", "--dry-run"]) == 0
    assert capsys.readouterr().out.endswith("into the local emulator in eu-west-1\n")
