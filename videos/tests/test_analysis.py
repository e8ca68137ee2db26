"""The signal analysis behind tag suggestions, on signals made here.

What is proven: the speech detector finds synthetic voiced syllables and
ignores silence, a steady tone and steady noise; the picture checks find dark
and covered frames; OpenCV's cascade finds a real (photographed) face and no
face in a test pattern or a dark frame. What is not: accuracy on real
candidates' recordings (accents, background chatter, faces in profile or
poor light) — the thresholds were checked on espeak-ng speech by hand, not in
these tests, since espeak is a system package.
"""

from __future__ import annotations

import av
import numpy as np
import pytest

from tests.support.media import face_picture, speechlike
from videos import analysis
from videos.analysis import Findings, PictureFindings, SoundFindings, suggest

RATE = analysis.AUDIO_RATE


def to_pcm16k(samples_48k: np.ndarray) -> np.ndarray:
    frame = av.AudioFrame.from_ndarray(
        samples_48k.reshape(1, -1).astype(np.float32), format="flt", layout="mono"
    )
    frame.sample_rate = 48_000
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    chunks = [f.to_ndarray().reshape(-1) for f in [*resampler.resample(frame), *resampler.resample(None)]]
    return np.concatenate(chunks)


def analyse(pcm: np.ndarray) -> SoundFindings:
    analyser = analysis.SoundAnalyser()
    for start in range(0, len(pcm), 777):  # odd chunk sizes, as decoders deliver them
        analyser.feed(pcm[start : start + 777])
    return analyser.findings()


def seconds_of(value: float, seconds: float = 5.0) -> np.ndarray:
    return np.full(int(seconds * RATE), value, dtype=np.int16)


def test_silence_is_not_speech() -> None:
    found = analyse(seconds_of(0))
    assert found.speech_ratio == 0
    assert found.speech_dbfs is None
    assert found.seconds == pytest.approx(5.0, abs=0.05)


def test_a_steady_tone_is_not_speech() -> None:
    """WebRTC's detector alone calls a loud tone speech; the syllable-rate check doesn't."""
    t = np.arange(5 * RATE) / RATE
    tone = (np.sin(2 * np.pi * 440 * t) * 0.3 * 32767).astype(np.int16)
    assert analyse(tone).speech_ratio == 0


def test_steady_noise_is_not_speech() -> None:
    noise = (np.random.default_rng(0).standard_normal(5 * RATE) * 3000).astype(np.int16)
    assert analyse(noise).speech_ratio == 0


def test_beeps_are_not_speech() -> None:
    """Chromium's fake microphone: a short 1 kHz beep every second."""
    t = np.arange(5 * RATE) / RATE
    beeping = (t % 1.0) < 0.1
    beeps = (np.sin(2 * np.pi * 1000 * t) * 0.3 * 32767 * beeping).astype(np.int16)
    assert analyse(beeps).speech_ratio == 0


def test_speechlike_syllables_are_speech() -> None:
    found = analyse(to_pcm16k(speechlike(5.0)))
    assert found.speech_ratio > 0.6
    assert found.speech_dbfs is not None and -40 < found.speech_dbfs < -15


def test_speech_ratio_follows_how_long_someone_speaks() -> None:
    voice = to_pcm16k(speechlike(4.0))
    half = np.concatenate([voice, np.zeros_like(voice)])
    assert analyse(half).speech_ratio == pytest.approx(analyse(voice).speech_ratio / 2, abs=0.1)


def test_speech_over_a_steady_hum_is_still_speech() -> None:
    voice = to_pcm16k(speechlike(5.0)).astype(np.int32)  # about -30 dBFS
    # A mains hum some 10 dB below the voice (-41 dBFS).
    hum = (np.sin(2 * np.pi * 100 * np.arange(len(voice)) / RATE) * 400).astype(np.int32)
    assert analyse(np.clip(voice + hum, -32768, 32767).astype(np.int16)).speech_ratio > 0.6


def gray(value: int, size: tuple[int, int] = (360, 640)) -> np.ndarray:
    return np.full(size, value, dtype=np.uint8)


def test_a_dark_frame_is_dark() -> None:
    noisy_dark = np.random.default_rng(1).integers(0, 30, size=(360, 640), dtype=np.uint8)
    assert analysis.look_at(noisy_dark).dark


def test_a_flat_frame_counts_as_covered_even_when_lit() -> None:
    assert analysis.look_at(gray(150)).dark


def test_brightness_is_what_a_person_sees() -> None:
    """Chromium's fake camera stores black luma and paints green through the
    colour planes: bright to a person, so not "dark"."""
    frame = av.VideoFrame(64, 48, "yuv420p")
    luma = np.zeros((48, 64), dtype=np.uint8)
    luma[18:30, 24:40] = 235  # the white shape on it
    frame.planes[0].update(luma.tobytes())
    for plane in frame.planes[1:]:
        plane.update(bytes(plane.buffer_size))  # U = V = 0
    bgr = frame.to_ndarray(format="bgr24")
    assert bgr[0, 0, 1] > 100 and bgr[0, 0, 0] == bgr[0, 0, 2] == 0  # green where the luma is black
    assert analysis.look_at(luma).dark  # judged on the stored luma alone it would be "dark"
    assert not analysis.look_at(analysis.grayscale(bgr)).dark


def test_a_test_pattern_is_lit_and_has_no_face() -> None:
    with av.open("testsrc=duration=1:size=640x360:rate=1", format="lavfi") as src:
        frame = next(src.decode(video=0)).reformat(format="gray").to_ndarray()
    look = analysis.look_at(frame)
    assert not look.dark
    assert not look.face


def test_a_photographed_face_is_found() -> None:
    canvas = gray(170).copy()
    face = face_picture(220)[:, :, 1]  # the green channel is a fair grayscale
    canvas[70:290, 210:430] = face
    look = analysis.look_at(canvas)
    assert look.face and not look.dark


def test_no_face_is_looked_for_in_the_dark() -> None:
    assert not analysis.look_at(gray(5)).face


def test_picture_analyser_samples_twice_a_second() -> None:
    analyser = analysis.PictureAnalyser()
    fed = 0
    for i in range(300):  # 10 s at 30 fps
        t = i / 30
        if analyser.due(t):
            analyser.feed(t, gray(5))
            fed += 1
    assert fed == 20
    assert analyser.findings().dark_ratio == 1.0


def findings(
    *, audio: bool = True, speech: float = 0.8, dbfs: float | None = -22, dark: float = 0.0, face: float = 0.9
):
    return Findings(
        has_audio=audio,
        sound=SoundFindings(seconds=60, speech_ratio=speech, speech_dbfs=dbfs if speech else None),
        picture=PictureFindings(frames=120, dark_ratio=dark, face_ratio=face),
    )


def test_a_good_take_is_suggested_for_review_with_what_was_measured() -> None:
    suggestion = suggest(findings(speech=0.8, face=0.95))
    assert suggestion.tag == "review"
    assert suggestion.reasons == ["face visible 95% of the time, speaking 80%", "voice level -22 dBFS"]


def test_a_silent_take_is_suggested_pass() -> None:
    suggestion = suggest(findings(speech=0.0))
    assert suggestion.tag == "pass"
    assert suggestion.reasons == ["no speech detected"]


def test_a_covered_camera_is_suggested_pass() -> None:
    suggestion = suggest(findings(dark=0.9, face=0.0))
    assert suggestion.tag == "pass"
    assert "camera covered or dark for 90% of the take" in suggestion.reasons


def test_a_take_without_sound_track_is_suggested_pass() -> None:
    assert suggest(findings(audio=False, speech=0.0)).reasons == ["no sound track"]


def test_a_quiet_voice_is_pointed_out() -> None:
    suggestion = suggest(findings(dbfs=-46))
    assert suggestion.tag == "review"
    assert "voice very quiet (-46 dBFS)" in suggestion.reasons


def test_no_face_is_said_but_not_held_against_the_take() -> None:
    suggestion = suggest(findings(face=0.0, speech=0.7))
    assert suggestion.tag == "review"
    assert suggestion.reasons[0] == "no face detected, speaking 70%"


def test_advance_is_never_suggested() -> None:
    assert suggest(findings(speech=1.0, face=1.0)).tag != "advance"


def face_canvas() -> np.ndarray:
    canvas = gray(170).copy()
    canvas[70:290, 210:430] = face_picture(220)[:, :, 1]
    return canvas


def test_a_lone_face_hit_does_not_count_but_a_steady_face_does() -> None:
    """Half a second apart, a real face is seen again; a false hit on a busy background is not."""
    with av.open("testsrc=duration=1:size=640x360:rate=1", format="lavfi") as src:
        pattern = next(src.decode(video=0)).reformat(format="gray").to_ndarray()
    lone = analysis.PictureAnalyser()
    for i, frame in enumerate([pattern, pattern, face_canvas(), pattern, pattern]):
        lone.feed(i / 2, frame)
    assert lone.findings().face_ratio == 0
    steady = analysis.PictureAnalyser()
    for i, frame in enumerate([pattern, face_canvas(), face_canvas(), face_canvas(), pattern]):
        steady.feed(i / 2, frame)
    assert steady.findings().face_ratio == pytest.approx(3 / 5)
