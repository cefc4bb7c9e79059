import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def body():
    from core.body import BodyModel

    return BodyModel()


@dataclass
class Server:
    """The app served by ``python app.py`` in its own process, as a user starts it."""

    url: str
    pid: int
    log: Path
    gradio_tmp: Path  # Gradio's cache of uploads and results
    tmp: Path  # TMPDIR of the server: the tabs' own output folders

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        import httpx

        try:
            return httpx.get(self.url, timeout=10).status_code == 200
        except httpx.HTTPError:
            return False

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def oldest_cache_file_s(self, since: float) -> float:
        """Age in seconds of the oldest file in Gradio's cache written after ``since`` (time.time());
        files the app wrote at start-up (its pictures and examples) stay and are not counted."""
        now, oldest = time.time(), 0.0
        for p in self.gradio_tmp.rglob("*"):
            try:
                if p.is_file() and p.stat().st_mtime >= since:
                    oldest = max(oldest, now - p.stat().st_mtime)
            except FileNotFoundError:
                continue
        return oldest

    def cache_files_since(self, since: float) -> list[Path]:
        """Files in Gradio's cache written after ``since`` (time.time())."""
        found = []
        for p in self.gradio_tmp.rglob("*"):
            try:
                if p.is_file() and p.stat().st_mtime >= since:
                    found.append(p)
            except FileNotFoundError:
                continue
        return found

    def output_folder_entries(self) -> dict[str, int]:
        """Entries in each of the tabs' own output folders (the folders under the server's TMPDIR)."""
        return {p.name: sum(1 for _ in p.iterdir()) for p in self.tmp.iterdir() if p.is_dir()}

    def disk_mb(self) -> float:
        total = 0
        for folder in (self.gradio_tmp, self.tmp):
            for p in folder.rglob("*"):
                try:
                    total += p.stat().st_size if p.is_file() else 0
                except FileNotFoundError:
                    continue
        return total / 2**20


CACHE_MINUTES = 0.5  # the served app deletes Gradio's cached files older than 30 s (every 10 s)
CACHE_EVERY_S = 10


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """``python app.py`` on a free local port, its log in a file; stopped by PID at the end."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = tmp_path_factory.mktemp("server")
    gradio_tmp, tmp, log = root / "gradio", root / "tmp", root / "app.log"
    gradio_tmp.mkdir()
    tmp.mkdir()
    env = dict(os.environ, GRADIO_TEMP_DIR=str(gradio_tmp), TMPDIR=str(tmp), PYTHONUNBUFFERED="1")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port), "--cache-minutes", str(CACHE_MINUTES)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}/", proc.pid, log, gradio_tmp, tmp)
    try:
        deadline = time.monotonic() + 180
        while not server.alive():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the app did not start:\n{server.log_text()[-3000:]}")
            time.sleep(1)
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def app_url(app_server):
    return app_server.url


@pytest.fixture(autouse=True)
def torch_threads(request):
    """One torch intra-op thread for every test unless it is marked ``@pytest.mark.threads(n)``: on a
    shared 2-core machine a second OpenMP thread mostly waits on the other processes (a DR-GAN test took
    220-380 s with the default pool there, 8 s with one thread)."""
    import torch

    marker = request.node.get_closest_marker("threads")
    wanted = int(marker.args[0]) if marker else 1
    before = torch.get_num_threads()
    torch.set_num_threads(wanted)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def point_env(monkeypatch):
    """``point_env({VARIABLE: path, ...})`` sets each environment variable to its path for one test (the tabs'
    checkpoint variables)."""

    def point(paths: dict[str, Path]) -> None:
        for name, path in paths.items():
            monkeypatch.setenv(name, str(path))

    return point
