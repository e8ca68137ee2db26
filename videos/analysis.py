"""What a take's sound and picture say, and the tag that suggests.

Everything here is signal analysis with models that ship inside pip wheels,
nothing fetched at run time:

- speech: WebRTC's voice activity detector (a Gaussian mixture model over
  sub-band energies, `webrtcvad-wheels`) on 30 ms frames of 16 kHz audio. On
  its own it calls any loud sound speech (a tone, a fan, beeps), so a frame
  only counts when it is not a pure tone (a voice spreads its energy over many
  harmonics) and the level around it rises and falls the way syllables do
  (speech's energy is modulated at 2-8 Hz; a hum's is flat);
- loudness: RMS level of the speech frames, in dBFS;
- picture: mean and spread of the brightness of frames sampled twice a
  second, scaled down (dark, or one flat colour as when a finger covers the
  lens), computed from the RGB picture a person sees;
- faces: OpenCV's Haar cascade for frontal faces, bundled in its wheel.

Analysers are fed as the video is decoded, so memory does not grow with the
length of the take beyond a few numbers per frame.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import webrtcvad

AUDIO_RATE = 16_000
AUDIO_FRAME = AUDIO_RATE * 30 // 1000  # 30 ms, one of the sizes webrtcvad accepts
FRAME_SECONDS = AUDIO_FRAME / AUDIO_RATE

# A frame quieter than this is silence whatever the detector says.
SILENCE_DBFS = -50.0
# Floor for levels, so digital silence (-inf) doesn't dominate the spread.
LEVEL_FLOOR_DBFS = -60.0
# Spread (standard deviation, dB) of the level over about a second that
# syllables give; steady tones and noise stay well below it.
MODULATION_DB = 4.0
MODULATION_FRAMES = 33  # ~1 s centred on the frame
# A frame whose strongest frequency (±2 FFT bins) holds more than this share
# of its energy is a tone (a beep, a test signal), not a voice; voiced speech
# stays well under it (its strongest harmonic: about 0.2-0.65).
TONE_SHARE = 0.9
# Pauses shorter than this inside an utterance still count as speaking.
HANGOVER_FRAMES = 10  # 300 ms
# Voiced runs shorter than this are clicks (the edges of a beep), not syllables.
SHORTEST_SYLLABLE_FRAMES = 3  # 90 ms
QUIET_SPEECH_DBFS = -40.0

# Picture: mean luma below this (0-255) is dark; a spread below FLAT_LUMA is
# one flat colour, as when something covers the lens.
DARK_LUMA = 40.0
FLAT_LUMA = 8.0
ANALYSIS_HEIGHT = 360
SAMPLES_PER_SECOND = 2.0

PcmArray = npt.NDArray[np.int16]
GrayArray = npt.NDArray[np.uint8]


# --- sound ---------------------------------------------------------------------


@dataclass(frozen=True)
class SoundFindings:
    seconds: float
    speech_ratio: float
    speech_dbfs: float | None


class SoundAnalyser:
    """Feed 16 kHz mono signed 16-bit PCM in any chunk size; read `findings()`."""

    def __init__(self, aggressiveness: int = 2) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)
        self._pending: PcmArray = np.zeros(0, dtype=np.int16)
        self._levels: list[float] = []
        self._voiced: list[bool] = []
        self._power: list[float] = []

    def feed(self, pcm: PcmArray) -> None:
        data = np.concatenate((self._pending, pcm)) if len(self._pending) else pcm
        whole = len(data) // AUDIO_FRAME * AUDIO_FRAME
        for start in range(0, whole, AUDIO_FRAME):
            self._frame(data[start : start + AUDIO_FRAME])
        self._pending = data[whole:].copy()

    def _frame(self, frame: PcmArray) -> None:
        samples = frame.astype(np.float64) / 32768.0
        power = float(np.mean(samples * samples))
        level = 10 * np.log10(power) if power > 0 else -120.0
        self._levels.append(level)
        self._power.append(power)
        self._voiced.append(
            level > SILENCE_DBFS
            and not _is_tone(samples)
            and self._vad.is_speech(frame.tobytes(), AUDIO_RATE)
        )

    def findings(self) -> SoundFindings:
        count = len(self._levels)
        if not count:
            return SoundFindings(seconds=0.0, speech_ratio=0.0, speech_dbfs=None)
        levels = np.maximum(np.array(self._levels), LEVEL_FLOOR_DBFS)
        spread = _moving_std(levels, MODULATION_FRAMES)
        speech = _drop_short_runs(np.array(self._voiced) & (spread > MODULATION_DB), SHORTEST_SYLLABLE_FRAMES)
        speaking = _close_gaps(speech, HANGOVER_FRAMES)
        power = np.array(self._power)[speech]
        dbfs = float(10 * np.log10(power.mean())) if power.size and power.mean() > 0 else None
        return SoundFindings(
            seconds=count * FRAME_SECONDS,
            speech_ratio=float(speaking.mean()),
            speech_dbfs=dbfs,
        )


_WINDOW = np.hanning(AUDIO_FRAME)


def _is_tone(samples: npt.NDArray[np.float64]) -> bool:
    spectrum = np.abs(np.fft.rfft(samples * _WINDOW)) ** 2
    total = float(spectrum.sum())
    if total <= 0:
        return False
    peak = int(spectrum.argmax())
    return float(spectrum[max(peak - 2, 0) : peak + 3].sum()) / total > TONE_SHARE


def _moving_std(values: npt.NDArray[np.float64], window: int) -> npt.NDArray[np.float64]:
    """Standard deviation over a centred window (shorter at the edges)."""
    half = window // 2
    padded_sum = np.concatenate(([0.0], np.cumsum(values)))
    padded_sq = np.concatenate(([0.0], np.cumsum(values * values)))
    index = np.arange(len(values))
    lo = np.maximum(index - half, 0)
    hi = np.minimum(index + half + 1, len(values))
    n = hi - lo
    mean = (padded_sum[hi] - padded_sum[lo]) / n
    var = (padded_sq[hi] - padded_sq[lo]) / n - mean * mean
    return np.sqrt(np.maximum(var, 0.0))


def _drop_short_runs(flags: npt.NDArray[np.bool_], shortest: int) -> npt.NDArray[np.bool_]:
    """Clear runs of True shorter than `shortest`."""
    out = flags.copy()
    edges = np.flatnonzero(np.diff(np.concatenate(([0], flags.astype(np.int8), [0]))))
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if end - start < shortest:
            out[start:end] = False
    return out


def _close_gaps(flags: npt.NDArray[np.bool_], longest_gap: int) -> npt.NDArray[np.bool_]:
    """Fill runs of False no longer than `longest_gap` that lie between two Trues."""
    out = flags.copy()
    true_at = np.flatnonzero(flags)
    for a, b in zip(true_at[:-1], true_at[1:], strict=True):
        if 1 < b - a <= longest_gap + 1:
            out[a:b] = True
    return out


# --- picture -------------------------------------------------------------------


@cache
def _face_cascade() -> cv2.CascadeClassifier:
    # The cascades ship in the opencv-python wheel's cv2/data folder.
    path = Path(cv2.__file__).with_name("data") / "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise RuntimeError("OpenCV's frontal face cascade could not be loaded.")
    return cascade


@dataclass(frozen=True)
class FrameLook:
    dark: bool
    face: bool
    sharpness: float

    @property
    def poster_score(self) -> float:
        """How good a still this frame makes: lit, a face, in focus."""
        if self.dark:
            return 0.0
        return 1.0 + (2.0 if self.face else 0.0) + min(self.sharpness / 200.0, 1.0)


def look_at(gray: GrayArray) -> FrameLook:
    """Judge one scaled-down grayscale frame (brightness as a person sees it:
    see `grayscale`)."""
    mean, spread = float(gray.mean()), float(gray.std())
    dark = mean < DARK_LUMA or spread < FLAT_LUMA
    face = False
    if not dark:
        height = gray.shape[0]
        smallest = max(24, height // 8)
        faces = _face_cascade().detectMultiScale(
            cv2.equalizeHist(gray), scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest)
        )
        face = len(faces) > 0
    sharpness = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    return FrameLook(dark=dark, face=face, sharpness=sharpness)


def grayscale(bgr: npt.NDArray[np.uint8]) -> GrayArray:
    """Brightness from the RGB picture, not the stored luma: they differ when
    the colour planes are out of range (Chromium's fake camera stores black
    luma and paints the picture green through its colour planes)."""
    gray: GrayArray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.uint8, copy=False)
    return gray


@dataclass(frozen=True)
class PictureFindings:
    frames: int
    dark_ratio: float
    face_ratio: float


class PictureAnalyser:
    """Feed scaled-down grayscale frames at the times `due()` asks for."""

    def __init__(self, per_second: float = SAMPLES_PER_SECOND) -> None:
        self._step = 1.0 / per_second
        self._next = 0.0
        self._dark: list[bool] = []
        self._face: list[bool] = []

    def due(self, seconds: float) -> bool:
        return seconds >= self._next

    def feed(self, seconds: float, gray: GrayArray) -> FrameLook:
        self._next = max(self._next + self._step, seconds + self._step / 2)
        look = look_at(gray)
        self._dark.append(look.dark)
        self._face.append(look.face)
        return look

    def findings(self) -> PictureFindings:
        frames = len(self._dark)
        if not frames:
            return PictureFindings(frames=0, dark_ratio=0.0, face_ratio=0.0)
        # The cascade has sporadic false hits on busy backgrounds; a person in
        # front of the camera is found in consecutive samples (half a second
        # apart), so a lone hit does not count.
        face = np.array(self._face)
        steady = face & (np.roll(face, 1) | np.roll(face, -1))
        if frames > 1:
            steady[0] = face[0] and face[1]
            steady[-1] = face[-1] and face[-2]
        return PictureFindings(
            frames=frames, dark_ratio=sum(self._dark) / frames, face_ratio=float(steady.sum()) / frames
        )


# --- the suggestion ------------------------------------------------------------


@dataclass(frozen=True)
class Findings:
    has_audio: bool
    sound: SoundFindings
    picture: PictureFindings

    def as_json(self) -> dict[str, Any]:
        return {"has_audio": self.has_audio, **asdict(self.sound), **asdict(self.picture)}


@dataclass(frozen=True)
class Suggestion:
    tag: str
    reasons: list[str]


def _pct(ratio: float) -> int:
    return round(ratio * 100)


def suggest(findings: Findings) -> Suggestion:
    """A triage tag with the reasons a recruiter can check by watching.

    Unusable takes (no voice, or a covered or dark camera for most of it) are
    suggested "pass"; anything else "review", with what was measured. Nothing
    a signal can measure says a candidate should advance, so aurio never
    suggests "advance": that stays a person's call.
    """
    sound, picture = findings.sound, findings.picture
    reasons: list[str] = []
    unusable = False

    if not findings.has_audio:
        reasons.append("no sound track")
        unusable = True
    elif sound.speech_ratio < 0.1:
        reasons.append("no speech detected")
        unusable = True

    if picture.frames and picture.dark_ratio >= 0.8:
        reasons.append(f"camera covered or dark for {_pct(picture.dark_ratio)}% of the take")
        unusable = True

    if not unusable:
        face = (
            f"face visible {_pct(picture.face_ratio)}% of the time"
            if picture.face_ratio >= 0.05
            else "no face detected"
        )
        reasons.append(f"{face}, speaking {_pct(sound.speech_ratio)}%")
        if picture.dark_ratio >= 0.2:
            reasons.append(f"camera covered or dark for {_pct(picture.dark_ratio)}% of the take")
    if sound.speech_dbfs is not None and findings.has_audio and sound.speech_ratio >= 0.1:
        if sound.speech_dbfs < QUIET_SPEECH_DBFS:
            reasons.append(f"voice very quiet ({sound.speech_dbfs:.0f} dBFS)")
        else:
            reasons.append(f"voice level {sound.speech_dbfs:.0f} dBFS")
    return Suggestion(tag="pass" if unusable else "review", reasons=reasons)
