"""`moodscape serve` in a real browser: headless Chromium (Debian's package, which `make test` installs)
driven by Playwright uploads two real clips and one bad file to the page, waits for the cards, and checks
the values against `moodscape predict` on the same files, the drawn plots and the bad file's message.
The screenshot is kept in test-artifacts/serve-page.png."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from moodscape.cli import main

from ..conftest import REPO

pytestmark = pytest.mark.slow

ARTIFACTS = REPO / "test-artifacts"


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "Debian's chromium is not installed (make test installs it: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI runs the README's test command, which installs it: absent is a failure there
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server():
    """The real command with the shipped model, on a free loopback port, stopped after the test."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moodscape.cli", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{url}/api/health", timeout=1) as answer:
                    if json.load(answer)["status"] == "ok":
                        break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"moodscape serve ended: {proc.stdout.read()[-2000:]}")
                time.sleep(0.2)
        else:
            pytest.fail("moodscape serve did not answer within 60 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


def test_the_page_predicts_real_clips_like_the_cli_and_reports_a_bad_file(shared_data, server, tmp_path):
    from playwright.sync_api import sync_playwright

    browser_path = chromium()
    clips = sorted((shared_data / "deam-mini" / "DEAM_audio" / "MEMD_audio").glob("*.mp3"))[:2]
    bad = tmp_path / "lecture-notes.mp3"
    bad.write_text("not a song, whatever the name says")
    expected_file = tmp_path / "cli.json"
    assert main(["-q", "predict", *map(str, clips), "--out", str(expected_file)]) == 0
    expected = {row["path"].rsplit("/", 1)[-1]: row for row in json.loads(expected_file.read_text())}

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            page.goto(server)
            page.wait_for_function("document.getElementById('model').textContent.includes('(default)')")
            assert page.locator("#token-box").is_hidden()
            for _ in range(5):  # the file picker is reachable from the keyboard
                page.keyboard.press("Tab")
                if page.evaluate("document.activeElement.id") == "files":
                    break
            assert page.evaluate("document.activeElement.id") == "files"
            assert page.evaluate("document.getElementById('files').closest('label').textContent").strip()
            page.set_input_files("#files", [*map(str, clips), str(bad)])
            page.wait_for_function("document.querySelectorAll('.card[data-status=done], .card[data-status=failed]')"
                                   ".length === 3", timeout=120_000)  # fmt: skip
            cards = page.eval_on_selector_all(".card", """cards => cards.map(c => ({
                name: c.querySelector('.name').textContent, status: c.dataset.status,
                valence: Number(c.dataset.valence), arousal: Number(c.dataset.arousal),
                quadrant: c.querySelector('.quadrant').textContent, error: c.querySelector('.error').textContent,
                windows: c.querySelectorAll('.plane circle.window').length,
                song: c.querySelectorAll('.plane circle.song').length,
                timeline: (c.querySelector('.timeline polyline.valence') || {getAttribute: () => ''})
                    .getAttribute('points').split(' ').filter(Boolean).length}))""")
            downloads = {}
            for button in ("download-json", "download-csv"):
                with page.expect_download() as info:
                    page.click(f"#{button}")
                downloads[button] = info.value.path().read_text()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "serve-page.png"), full_page=True)
        finally:
            browser.close()

    by_name = {card["name"]: card for card in cards}
    for clip in clips:
        card, want = by_name[clip.name], expected[clip.name]
        assert card["status"] == "done", card
        assert card["valence"] == pytest.approx(want["valence"], abs=1e-6)
        assert card["arousal"] == pytest.approx(want["arousal"], abs=1e-6)
        assert card["quadrant"].startswith(want["quadrant"])
        assert card["windows"] == card["timeline"] == want["windows"] > 1 and card["song"] == 1
    saved = {row["path"]: row for row in json.loads(downloads["download-json"])}
    assert set(saved) == {c.name for c in clips} and all(saved[c.name]["timeline"] for c in clips)
    assert saved[clips[0].name]["valence"] == pytest.approx(expected[clips[0].name]["valence"], abs=1e-6)
    rows = downloads["download-csv"].splitlines()
    assert rows[0].startswith("path,valence,arousal") and len(rows) == 3
    failed = by_name[bad.name]
    assert failed["status"] == "failed" and "not an audio file" in failed["error"]
    assert (ARTIFACTS / "serve-page.png").stat().st_size > 10_000
