"""Analysis of one answer: how it was said (delivery), what was said (content), and the tips.

Imports only the audio package's types; never scenarios or kiosk.
"""
