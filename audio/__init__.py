"""Audio in and out: the Clip value, files, TTS, devices, voice activity and speech recognition.

The lowest package: it imports nothing from analysis, scenarios or kiosk.
"""

from audio.clip import TARGET_RATE_HZ, AudioError, Clip, load, save_wav

__all__ = ["TARGET_RATE_HZ", "AudioError", "Clip", "load", "save_wav"]
