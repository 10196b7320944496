"""The browser streams its answer (kiosk/web/static/recorder.js, capture-worklet.js, kiosk/web/live.py):
Debian's Chromium with its fake microphone, under the page's real Content-Security-Policy."""

from test_web_browser import browser, server, wait_state  # noqa: F401 - fixtures


def test_the_answer_goes_over_a_websocket_as_it_is_spoken(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    sockets, uploads, errors = [], [], []
    page.on(
        "websocket",
        lambda ws: sockets.append({"url": ws.url, "sent": 0})
        or ws.on("framesent", lambda _: sockets[-1].__setitem__("sent", sockets[-1]["sent"] + 1)),
    )
    page.on("request", lambda r: uploads.append(r.url) if r.method == "POST" and r.url.endswith("/answer") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server)
    page.click("#btn-begin:not([disabled])")
    page.keyboard.type("Stream Test")
    page.click("#btn-name-ok")
    wait_state(page, "calibrate", "scenarios")
    if page.get_attribute("body", "data-state") == "calibrate":
        page.click("#btn-skip-calibration")
    page.click(".scenario-card[data-scenario='late-delivery']")
    wait_state(page, "your-turn", timeout_s=30)
    page.click("#btn-record")
    wait_state(page, "your-turn", "finished", timeout_s=90)
    said = page.inner_text("#last-said").lower()
    assert "sorry" in said and "refund" in said
    assert [s["url"].split("/api/")[1].split("/")[-2:] for s in sockets] == [["answer", "stream"]]
    assert sockets[0]["sent"] > 100, "frames are sent while the answer is spoken (32 ms each)"
    assert uploads == [], "nothing was uploaded"
    assert not errors, errors
    page.close()
