"""`asva serve` end to end: a real server process, headless Chromium uploading the bundled example.

Playwright drives the system's Chromium (Debian's `chromium` package; `.ci/run` installs it), never
a browser of its own download. With ASVA_WRITE_SCREENSHOT=1 the finished page is saved to
docs/web_demo.png, the screenshot the docs show.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from asva.cli import EXAMPLE_AUDIO, EXAMPLE_IMAGE, EXAMPLE_PROMPT, _asset
from asva.media import probe_video, read_video_frames, write_wav
from asva.presets import get_preset

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90  # imports and the tiny model's load; measured ~25 s on a busy 2-core machine


def chromium_path() -> str | None:
    return shutil.which("chromium") or next(
        (p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.access(p, os.X_OK)), None
    )


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        chromium_path() is None,
        reason="no Chromium: install it with `apt-get install chromium` (.ci/run does)",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """`asva serve` in a subprocess on a free port: (its URL, the temp folder its requests use)."""
    root = tmp_path_factory.mktemp("serve")
    (root / "tmp").mkdir()
    port = free_port()
    env = {
        **os.environ,
        "TMPDIR": str(root / "tmp"),  # mkdtemp's default parent: where request folders go
        "GRADIO_TEMP_DIR": str(root / "gradio"),  # Gradio's cache, kept apart so `tmp` can be checked
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    log = (root / "server.log").open("w")
    cmd = [sys.executable, "-c", "from asva.cli import main; main()", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"asva serve exited with {proc.returncode}:\n{(root / 'server.log').read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                pytest.fail(f"asva serve not up in {START_TIMEOUT_S} s:\n{(root / 'server.log').read_text()}")
            time.sleep(0.5)
        yield url, root / "tmp"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_upload_animate_and_download(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, request_root = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.locator("#image-input input[type=file]").set_input_files(str(_asset(EXAMPLE_IMAGE)))
            page.locator("#audio-input input[type=file]").set_input_files(str(_asset(EXAMPLE_AUDIO)))
            page.locator("#prompt textarea").fill(EXAMPLE_PROMPT)
            # One DDIM step: this test checks the plumbing, not the picture; the screenshot for the
            # docs keeps the default 20 steps so it shows what a user gets.
            n_steps = "20" if os.environ.get("ASVA_WRITE_SCREENSHOT") == "1" else "1"
            steps = page.locator("#steps input[type=number]")
            steps.fill(n_steps)
            steps.press("Enter")
            expect(steps).to_have_value(n_steps)
            page.locator("#animate").click()

            video = page.locator("#video-output video")
            expect(video).to_have_attribute("src", re.compile(r"\.mp4$"), timeout=90_000)
            expect(page.locator("#summary")).to_contain_text("frames at", timeout=30_000)
            expect(page.locator("#strip img")).to_be_visible()
            expect(page.locator("#sync-plot img")).to_be_visible()
            expect(page.locator("#download")).to_contain_text(".mp4")
            # The status line polls the server every 2 s: it turns back to idle once the job is done.
            expect(page.locator("#server-status")).to_contain_text("Idle", timeout=10_000)

            response = page.request.get(video.get_attribute("src"))
            assert response.ok, response.status
            mp4 = tmp_path / "served.mp4"
            mp4.write_bytes(response.body())
            if os.environ.get("ASVA_WRITE_SCREENSHOT") == "1":
                page.screenshot(path=str(REPO / "docs" / "web_demo.png"), full_page=True)
        finally:
            browser.close()

    preset = get_preset("tiny")
    info = probe_video(mp4)
    assert info.has_audio
    assert info.num_frames == preset.frames and info.fps == pytest.approx(preset.fps)
    assert read_video_frames(mp4, fps=preset.fps).shape == (preset.frames, preset.height, preset.width, 3)
    # The request's own folder is gone; the mp4 was served from Gradio's cache.
    assert list(request_root.glob("asva-web-*")) == []


def test_refusal_is_shown_on_the_page(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, _ = server
    long_audio = tmp_path / "long.wav"
    write_wav(long_audio, np.zeros(40 * 16_000, np.float32), 16_000)  # over the default 30 s
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True)
        try:
            page = browser.new_page()
            page.goto(url)
            page.locator("#image-input input[type=file]").set_input_files(str(_asset(EXAMPLE_IMAGE)))
            page.locator("#audio-input input[type=file]").set_input_files(str(long_audio))
            page.locator("#animate").click()
            message = "the audio is 40.0 s long; this server accepts at most 30 s"
            expect(page.get_by_text(message).first).to_be_visible(timeout=30_000)
        finally:
            browser.close()
