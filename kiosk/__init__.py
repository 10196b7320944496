"""The kiosk: practice sessions, the `kiosk` command line, reports (and later the web kiosk).

The top package: it may import audio, analysis and scenarios.
"""
