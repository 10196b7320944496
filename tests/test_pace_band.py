"""The speak_slowly verdict and the pace chart share one band (analysis.delivery.pace_band): a dot
outside the shaded band is "needs work", inside it "pass", and a pace failed only by the absolute
cap says so in words."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from audio.asr import Transcript
from audio.clip import Clip
from analysis.delivery import RUSHED_CAP_WPM, Baseline, judge, measure, pace_band
from kiosk.plots import rate_chart


@pytest.fixture(scope="module")
def measures(jfk: Clip):
    """Real measures of a real answer; only the pace is set per case."""
    return measure(jfk, Transcript("", (), jfk.duration_s))


def _band_and_dot(svg: str) -> tuple[float, float, float]:
    rect = re.search(r'<rect class="calm-band" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)
    dot = re.search(r'<circle class="marker" cx="([\d.]+)"', svg)
    return float(rect[1]), float(rect[1]) + float(rect[2]), float(dot[1])


@pytest.mark.parametrize("calm_wpm", [None, 120.0, 140.0, 170.0])
@pytest.mark.parametrize("wpm", [90.0, 125.0, 138.0, 150.0, 160.0, 165.0, 175.0, 184.0, 200.0])
def test_the_dot_leaves_the_band_exactly_when_the_verdict_fails(measures, calm_wpm, wpm):
    baseline = Baseline(150.0, -20.0, calm_wpm, -5.0) if calm_wpm else None
    verdict = judge(replace(measures, wpm=wpm, trend=()), baseline).speak_slowly
    low, high, dot = _band_and_dot(rate_chart(wpm, pace_band(calm_wpm), calm_wpm))
    assert (verdict.status == "needs_work") == (dot > high), (verdict, low, high, dot)


def test_a_pace_failed_by_the_cap_says_so(measures):
    assert pace_band(170.0).high_wpm == RUSHED_CAP_WPM
    verdict = judge(replace(measures, wpm=184.0, trend=()), Baseline(150.0, -20.0, 170.0, -5.0)).speak_slowly
    assert verdict.status == "needs_work"
    assert verdict.detail.startswith("184 words a minute: above 180 is rushed whatever your usual pace")


def test_a_160_dot_without_baseline_passes_inside_the_band(measures):
    """Without a baseline the verdict passes up to 160 wpm: the band must reach 160 too."""
    verdict = judge(replace(measures, wpm=160.0, trend=())).speak_slowly
    low, high, dot = _band_and_dot(rate_chart(160.0, pace_band(None)))
    assert verdict.status == "pass" and low <= dot <= high
