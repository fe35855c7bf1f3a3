"""``loopwatch encoders download`` against a real HTTP server on 127.0.0.1: resume, checksums, conversion."""

from __future__ import annotations

import hashlib
import http.server
import re
import threading

import pytest
from typer.testing import CliRunner

from loopwatch.cli import app
from loopwatch.embed import weights


class Server:
    """Serves one file like Hugging Face does: a redirect that carries X-Linked-Etag/Size, then the bytes.

    ``cut_after`` makes the next full-body response stop after that many bytes and
    close the connection, as a dropped network would.
    """

    def __init__(self, data: bytes, advertised_sha: str | None):
        self.data = data
        self.sha = advertised_sha
        self.cut_after: int | None = None
        self.ranges: list[str | None] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path.startswith("/resolve/"):
                    self.send_response(302)
                    self.send_header("Location", "/cdn/" + self.path.rsplit("/", 1)[-1])
                    if outer.sha:
                        self.send_header("X-Linked-Etag", f'"{outer.sha}"')
                    self.send_header("X-Linked-Size", str(len(outer.data)))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                rng = self.headers.get("Range")
                outer.ranges.append(rng)
                start = 0
                if rng:
                    m = re.match(r"bytes=(\d+)-", rng)
                    start = int(m.group(1))
                    if start >= len(outer.data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(outer.data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(outer.data) - 1}/{len(outer.data)}")
                else:
                    self.send_response(200)
                body = outer.data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", '"v1"')
                self.end_headers()
                if outer.cut_after is not None:
                    self.wfile.write(body[: outer.cut_after])
                    self.wfile.flush()
                    outer.cut_after = None
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/resolve/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def fusion_bytes(laion_fusion_ckpt):
    path, _ = laion_fusion_ckpt
    data = path.read_bytes()
    return data, hashlib.sha256(data).hexdigest()


@pytest.fixture
def served(fusion_bytes, monkeypatch):
    data, sha = fusion_bytes
    srv = Server(data, sha)
    monkeypatch.setenv("LOOPWATCH_WEIGHTS_URL", srv.url)
    yield srv
    srv.close()


def test_download_converts_and_installs(served, fusion_bytes):
    out = weights.download("clap-fusion")
    assert out == weights.weights_path("clap-fusion") and out.is_file()
    meta = weights.read_metadata(out)
    assert meta["source_sha256"] == fusion_bytes[1]
    assert meta["source"] == "630k-audioset-fusion-best.pt"
    # the original checkpoint and partial files are gone
    assert list((out.parent / "downloads").iterdir()) == []


def test_interrupted_download_resumes(served, fusion_bytes):
    data, sha = fusion_bytes
    served.cut_after = len(data) // 3
    with pytest.raises(weights.WeightsError, match="run the command again to resume"):
        weights.download("clap-fusion")
    part = weights.weights_path("clap-fusion").parent / "downloads" / "630k-audioset-fusion-best.pt.part"
    assert part.stat().st_size == len(data) // 3
    seen = []
    out = weights.download("clap-fusion", progress=lambda d, t: seen.append((d, t)))
    assert served.ranges[-1] == f"bytes={len(data) // 3}-"  # resumed, not restarted
    assert weights.read_metadata(out)["source_sha256"] == sha
    assert seen[-1] == (len(data), len(data))


def test_checksum_mismatch_deletes_and_fails(served, fusion_bytes):
    served.sha = "0" * 64
    with pytest.raises(weights.WeightsError, match="sha256 mismatch"):
        weights.download("clap-fusion")
    dl = weights.weights_path("clap-fusion").parent / "downloads"
    assert not any(dl.iterdir())
    assert not weights.is_installed("clap-fusion")


def test_pinned_checksum_is_enforced(served):
    # clap-music has a pinned sha256 of LAION's real file; random test weights cannot match it
    assert weights.CHECKPOINTS["clap-music"].sha256
    with pytest.raises(weights.WeightsError, match="sha256 mismatch"):
        weights.download("clap-music")


def test_unreachable_server_is_one_line_error(monkeypatch):
    monkeypatch.setenv("LOOPWATCH_WEIGHTS_URL", "http://127.0.0.1:9/resolve/")  # nothing listens there
    with pytest.raises(weights.WeightsError, match="download failed") as ei:
        weights.download("clap-fusion", timeout=5)
    assert "\n" not in str(ei.value)


def test_cli_download_list_and_import(served, laion_fusion_ckpt):
    runner = CliRunner()
    res = runner.invoke(app, ["encoders", "download", "clap-fusion"])
    assert res.exit_code == 0, res.output
    assert "installed clap-fusion weights" in res.output
    res = runner.invoke(app, ["encoders", "list", "--json"])
    rows = {r["name"]: r for r in __import__("json").loads(res.output)}
    assert rows["clap-fusion"]["installed"] and not rows["clap-music"]["installed"] and rows["spectral"]["installed"]
    path, _ = laion_fusion_ckpt
    res = runner.invoke(app, ["encoders", "import", str(path)])
    assert res.exit_code == 0 and "installed weights" in res.output
    res = runner.invoke(app, ["encoders", "import", str(path), "--encoder", "clap-music"])
    assert res.exit_code == 1 and "not a non-fusion HTSAT-base checkpoint" in res.output


def test_import_refuses_pickled_code_folders_and_the_spectral_encoder(tmp_path):
    """A checkpoint whose pickle would run code is refused by the safe unpickler, and the message does not pass on
    torch's advice to load it without weights_only; a folder and the weight-free encoder get their own lines."""
    import os
    import pickle

    from loopwatch.embed.weights import WeightsError, convert

    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"state_dict": Evil()}))
    with pytest.raises(WeightsError) as err:
        convert(evil, folder=tmp_path / "w")
    msg = str(err.value)
    assert "safe unpickler refused it" in msg and "weights_only" not in msg and not marker.exists()
    with pytest.raises(WeightsError, match="a folder; give the checkpoint file"):
        convert(tmp_path, folder=tmp_path / "w")
    with pytest.raises(WeightsError, match="the spectral encoder needs no weights"):
        convert(evil, encoder="spectral", folder=tmp_path / "w")
