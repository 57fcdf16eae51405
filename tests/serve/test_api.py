"""The HTTP API of `moodscape serve` through the ASGI test client: answers, every bad-input kind, limits,
the bounded pool (503 and 504), tokens, temporary files, and the Python client. The model is a tiny
untrained student checkpoint (the API does not care what the model learnt)."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from moodscape import Client, Predictor
from moodscape.inference.predictor import SongPrediction
from moodscape.serve.app import create_app
from moodscape.serve.limits import Limits, sniff_audio
from moodscape.serve.run import is_loopback, model_info

from ..conftest import write_tiny_checkpoint, write_tone

SMALL = Limits(max_file_mb=1.0, max_seconds=30.0, max_files=3, workers=1, queue=1, timeout_seconds=60.0)


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    run = tmp_path_factory.mktemp("model")
    write_tiny_checkpoint(run / "best")
    return Predictor.load(run)


@pytest.fixture
def staging(tmp_path):
    folder = tmp_path / "staging"
    folder.mkdir()
    return folder


def make_client(predictor, staging, limits=SMALL, token=None):
    app = create_app(predictor, model_info(None, predictor), limits=limits, token=token, temp_dir=staging)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(predictor, staging):
    with make_client(predictor, staging) as c:
        yield c
    assert not any(staging.iterdir()), "uploads left behind"


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("songs")
    return {
        "a.wav": write_tone(folder / "a.wav", seconds=8, seed=1),
        "b.flac": write_tone(folder / "b.flac", seconds=7, seed=2, channels=2),
        "long.wav": write_tone(folder / "long.wav", seconds=40, rate=8000, seed=3),
        "big.wav": write_tone(folder / "big.wav", seconds=30, rate=44100, seed=4),
    }


def upload(*paths, name=None):
    return [("files", (name or p.name, p.read_bytes())) for p in paths]


def test_one_file_gives_the_fields_of_predict_json_and_the_same_values(client, predictor, songs):
    response = client.post("/api/predict", files=upload(songs["a.wav"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["errors"] == [] and len(body["predictions"]) == 1
    song = body["predictions"][0]
    assert set(song) == set(SongPrediction.__dataclass_fields__) - {"timeline", "tags"} and song["path"] == "a.wav"
    local = predictor.predict(songs["a.wav"])
    assert song["valence"] == pytest.approx(local.valence, abs=1e-6) and song["quadrant"] == local.quadrant


def test_timeline_flag_and_several_files_with_a_bad_one(client, songs):
    files = upload(songs["a.wav"], songs["b.flac"]) + [("files", ("notes.mp3", b"these are not sounds at all"))]
    body = client.post("/api/predict", files=files, data={"timeline": "true"}).json()
    assert [p["path"] for p in body["predictions"]] == ["a.wav", "b.flac"]
    assert all(len(p["timeline"]) == p["windows"] > 0 for p in body["predictions"])
    assert body["errors"] == [{"file": "notes.mp3", "status": 415, "error": body["errors"][0]["error"]}]
    assert "not an audio file" in body["errors"][0]["error"]


@pytest.mark.parametrize(
    ("files", "status", "message"),
    [
        (lambda s: [("files", ("empty.wav", b""))], 400, "empty file"),
        (lambda s: [("files", ("song.mp3", b"<html>not audio</html>" * 10))], 415, "not an audio file"),
        (lambda s: [("files", ("cut.wav", s["a.wav"].read_bytes()[:60]))], 422, "cut.wav"),
        (lambda s: upload(s["long.wav"]), 422, "minutes long"),
        (lambda s: upload(s["big.wav"]), 413, "larger than the server's limit of 1 MB"),
        (lambda s: upload(s["a.wav"], s["a.wav"], s["a.wav"], s["a.wav"]), 400, "up to 3 per request"),
    ],
    ids=["empty", "not-audio", "truncated", "too-long", "too-large", "too-many"],
)
def test_bad_input_is_a_clear_4xx_in_json(client, songs, files, status, message):
    response = client.post("/api/predict", files=files(songs))
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]


def test_a_request_over_the_body_limit_is_cut_off_with_413(client, songs):
    blob = b"RIFF" + b"\0" * 5_000_000  # more than 3 files x 1 MB + the form's margin
    response = client.post("/api/predict", files=[("files", ("huge.wav", blob))])
    assert response.status_code == 413 and "larger than the server's limit" in response.json()["detail"]


def test_no_files_field_and_a_bad_flag_are_refused_in_words(client, songs):
    response = client.post("/api/predict", data={"timeline": "true"})
    assert response.status_code == 400 and "no files" in response.json()["detail"]
    response = client.post("/api/predict", files=upload(songs["a.wav"]), data={"timeline": "maybe"})
    assert response.status_code == 400 and response.json()["detail"].startswith("timeline: ")


def test_health_models_schema_docs_and_page_are_served_locally(client):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["limits"]["max_files"] == 3 and not health["token_required"]
    (model,) = client.get("/api/models").json()
    assert model["name"].endswith("(default)") is False or model["kind"]
    assert {"name", "kind", "form", "summary", "description"} <= set(model)
    schema = client.get("/openapi.json").json()
    assert {"/api/predict", "/api/health", "/api/models"} <= set(schema["paths"])
    docs = client.get("/docs").text
    assert "/static/swagger/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    page = client.get("/").text
    assert "/static/app.js" in page and "http://" not in page and "https://" not in page
    for asset in ("/static/app.js", "/static/style.css", "/static/swagger/LICENSE"):
        assert client.get(asset).status_code == 200, asset


def test_the_tags_flag_adds_each_taggers_top_tags(client, songs):
    body = client.post("/api/predict", files=upload(songs["a.wav"]), data={"tags": "true"}).json()
    (song,) = body["predictions"]
    assert [t["source"] for t in song["tags"]] == ["MSD_musicnn"] * 5 + ["MTT_musicnn"] * 5


def test_a_token_guards_the_api_but_not_the_page(predictor, staging, songs):
    with make_client(predictor, staging, token="s3cret") as c:
        assert c.get("/").status_code == 200 and c.get("/api/health").json()["token_required"]
        assert c.post("/api/predict", files=upload(songs["a.wav"])).status_code == 401
        wrong = c.post("/api/predict", files=upload(songs["a.wav"]), headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "needs a token" in wrong.json()["detail"]
        assert c.get("/api/models").status_code == 401
        ok = c.post("/api/predict", files=upload(songs["a.wav"]), headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
    assert not any(staging.iterdir())


class Gate:
    """A predictor whose calls wait until released, to hold the pool busy."""

    def __init__(self, predictor):
        self.predictor, self.release, self.entered = predictor, threading.Event(), threading.Event()

    def predict(self, path, *, timeline=False, tags=False):
        self.entered.set()
        self.release.wait(30)
        return self.predictor.predict(path, timeline=timeline, tags=tags)

    def __getattr__(self, name):
        return getattr(self.predictor, name)


def test_a_full_queue_answers_503_with_retry_after_and_the_held_requests_complete(predictor, staging, songs):
    gate = Gate(predictor)
    limits = Limits(max_file_mb=1.0, max_seconds=30.0, max_files=3, workers=1, queue=1, timeout_seconds=60.0)
    with make_client(gate, staging, limits=limits) as c:
        answers = {}

        def post(key):
            answers[key] = c.post("/api/predict", files=upload(songs["a.wav"]))

        first = threading.Thread(target=post, args=("first",))
        first.start()
        assert gate.entered.wait(10)
        second = threading.Thread(target=post, args=("second",))  # waits in the queue
        second.start()
        deadline = time.monotonic() + 60
        while c.get("/api/health").json()["pending"] != 2:
            assert time.monotonic() < deadline, "the second request never reached the queue"
            time.sleep(0.05)
        busy = c.post("/api/predict", files=upload(songs["a.wav"]))
        assert busy.status_code == 503 and int(busy.headers["Retry-After"]) >= 1
        gate.release.set()
        first.join(30)
        second.join(30)
        assert answers["first"].status_code == answers["second"].status_code == 200
        assert c.get("/api/health").json()["pending"] == 0
    assert not any(staging.iterdir())


def test_a_slow_request_times_out_with_504_and_a_crash_stays_in_its_file(predictor, staging, songs):
    gate = Gate(predictor)
    limits = Limits(max_file_mb=1.0, max_seconds=30.0, max_files=3, workers=1, queue=1, timeout_seconds=0.5)
    with make_client(gate, staging, limits=limits) as c:
        slow = c.post("/api/predict", files=upload(songs["a.wav"]))
        assert slow.status_code == 504 and "longer than 0.5 s" in slow.json()["detail"]
        gate.release.set()

    class Crashing:
        def __init__(self):
            self.backend = predictor.backend

        def predict(self, path, *, timeline=False, tags=False):
            if path.suffix == ".flac":
                raise RuntimeError("boom")
            return predictor.predict(path, timeline=timeline, tags=tags)

    with make_client(Crashing(), staging) as c:
        body = c.post("/api/predict", files=upload(songs["a.wav"], songs["b.flac"])).json()
        assert [p["path"] for p in body["predictions"]] == ["a.wav"]
        assert body["errors"][0]["status"] == 500 and "RuntimeError" in body["errors"][0]["error"]
        assert c.get("/api/health").status_code == 200


def test_the_python_client_returns_song_predictions(client, predictor, songs, tmp_path):
    remote = Client("http://testserver", http=client)
    song = remote.predict(songs["a.wav"], timeline=True)
    assert isinstance(song, SongPrediction) and song.timeline and song.path == str(songs["a.wav"])
    assert song.arousal == pytest.approx(predictor.predict(songs["a.wav"]).arousal, abs=1e-6)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nothing")
    outcomes = list(remote.predict_many([songs["b.flac"], bad]))
    assert outcomes[0][1] is not None and outcomes[1][1] is None and "not an audio file" in outcomes[1][2]


def test_sniffing_and_loopback():
    assert sniff_audio(b"RIFF\0\0\0\0WAVEfmt ") == "wav" and sniff_audio(b"fLaC\0") == "flac"
    assert sniff_audio(b"ID3\x04") == "mp3" and sniff_audio(b"\xff\xfb\x90\x00") == "mp3"
    assert sniff_audio(b"FORM\0\0\0\0AIFF") == "aiff" and sniff_audio(b"OggS\0") == "ogg"
    assert sniff_audio(b"%PDF-1.4") is None and sniff_audio(b"") is None and sniff_audio(b"RIFF\0\0\0\0AVI ") is None
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")


def test_a_streamed_body_without_length_is_cut_off_once_past_the_limit(client):
    """No Content-Length (chunked): the body is counted as it arrives, and the answer is a JSON 413."""
    boundary = "moodscape-test"

    def body():
        yield (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.wav"\r\n'
               "Content-Type: audio/wav\r\n\r\n").encode()  # fmt: skip
        for _ in range(50):  # 5 MB, over 3 files x 1 MB + the form's margin
            yield b"RIFF" + b"\0" * 100_000
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post("/api/predict", content=body(),
                           headers={"content-type": f"multipart/form-data; boundary={boundary}"})  # fmt: skip
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 413 and "larger than the server's limit" in response.json()["detail"]
    assert client.get("/api/health").status_code == 200


def test_the_command_warns_beyond_loopback_and_takes_the_token_from_the_environment(tmp_path, monkeypatch, caplog):
    import uvicorn

    from moodscape.cli import main

    write_tiny_checkpoint(tmp_path / "model" / "best")
    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(app=app, **kw))
    monkeypatch.setenv("MOODSCAPE_TOKEN", "from-env")
    assert main(["serve", "--model", str(tmp_path / "model"), "--host", "0.0.0.0", "--port", "9001"]) == 0
    assert (started["host"], started["port"]) == ("0.0.0.0", 9001)
    assert "anyone who can reach this address" in caplog.text
    with TestClient(started["app"]) as c:
        assert c.get("/api/models").status_code == 401
        assert c.get("/api/models", headers={"Authorization": "Bearer from-env"}).status_code == 200
    monkeypatch.delenv("MOODSCAPE_TOKEN")
    caplog.clear()
    assert main(["serve", "--model", str(tmp_path / "model")]) == 0
    assert started["host"] == "127.0.0.1" and "anyone who can reach" not in caplog.text


def test_a_shipped_model_served_by_name_is_described_as_moodscape_models_lists_it(predictor):
    info = model_info("moodscape-4q-musicnn", predictor)
    assert info.name == "moodscape-4q-musicnn (default)" and info.path.name == "default_model"
    assert model_info(None, predictor).name.endswith("(default)")
