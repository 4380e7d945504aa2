"""The page's controls and states in real Chromium against the real stack: host picker, staleness,
hostile names, theme and keyboard use, the Chart.js → Plotly fallback, empty state and reconnects.

One dashboard (``--stale-seconds 3``) and topic for the module; the reconnect test runs its own
dashboard, which it restarts on the same port.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.browser.test_page import (
    DEBUG,
    PLOTLY_POINTS,
    Stack,
    click,
    close_stack,
    href,
    now_ms,
    open_stack,
    series_on_page,
    wait_points,
)
from tests.support import Process, free_port, wait_for

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def stack(kafka_broker, tmp_path_factory) -> Iterator[Stack]:
    s = open_stack(kafka_broker, tmp_path_factory.mktemp("controls"), "--stale-seconds", "3")
    yield s
    close_stack(s)


def hosts_drawn(page) -> set[str]:
    return {label.split(" · ")[0] for label in series_on_page(page)}


def open_picker(page) -> None:
    if not page.evaluate("document.getElementById('host-picker').open"):
        page.locator("#host-summary").click()
    wait_for(lambda: page.locator("#host-search").is_visible(), 5, "the host picker to open")


def test_host_picker_filters_datasets_and_lives_in_the_url(page, stack):
    now = now_ms()
    for host in ("pick-a1", "pick-a2", "pick-b1"):
        stack.send(host, [(now - 10_000 + i * 1000, {"cpu.percent": 10.0 + i}) for i in range(10)])
    stack.produce("pick-b2", interval=0.2)  # live: its datasets leave the charts while points arrive
    page.goto(stack.url)
    wait_for(lambda: {"pick-a1", "pick-a2", "pick-b1", "pick-b2"} <= hosts_drawn(page), 30, "the four hosts")
    assert page.inner_text("#host-summary").startswith("Hosts: All hosts")

    open_picker(page)
    page.get_by_label("Search hosts").fill("pick-a")
    options = page.locator("#host-list li:not([hidden])").all_inner_texts()
    assert sorted(o.strip() for o in options) == ["pick-a1", "pick-a2"], "search filters the list"
    page.keyboard.press("Enter")  # = "Only matching"
    wait_for(lambda: not any(h.startswith("pick-b") for h in hosts_drawn(page)), 10, "pick-b* to leave the charts")
    assert {"pick-a1", "pick-a2"} <= hosts_drawn(page)
    live = [s["points"] for s in page.evaluate(DEBUG)["series"] if s["host"] == "pick-b2"]
    wait_for(lambda: [s["points"] for s in page.evaluate(DEBUG)["series"] if s["host"] == "pick-b2"] > live, 10,
             "pick-b2 still buffered while not shown")
    assert page.errors == [], "points arriving for series no longer drawn are harmless"
    assert "hosts=pick-a1,pick-a2" in href(page)
    assert re.match(r"Hosts: 2 of \d+ hosts", page.inner_text("#host-summary"))

    page.get_by_label("Search hosts").fill("")
    page.locator("#host-list li", has_text="pick-a2").get_by_role("checkbox").uncheck()  # one more off
    wait_for(lambda: hosts_drawn(page) & {"pick-a1", "pick-a2", "pick-b1"} == {"pick-a1"}, 10, "only pick-a1")
    assert "hosts=pick-a1" in href(page) and "pick-a2" not in href(page)

    page.reload()  # a deep link reproduces the view
    wait_for(lambda: "pick-a1" in hosts_drawn(page), 30, "pick-a1 after reload")
    assert hosts_drawn(page) == {"pick-a1"}, "the URL's host selection applies on load"
    page.goto(stack.url + "?hosts=pick-b*")  # shell patterns, as the relay reads them
    wait_for(lambda: hosts_drawn(page) == {"pick-b1", "pick-b2"}, 30, "the pattern's hosts only")

    open_picker(page)
    page.get_by_role("button", name="All hosts").click()
    wait_for(lambda: {"pick-a1", "pick-a2", "pick-b1", "pick-b2"} <= hosts_drawn(page), 10, "all hosts again")
    assert "hosts=" not in href(page)
    assert page.errors == []


def test_silent_host_turns_stale_with_its_age_and_recovers(page, stack):
    producer = stack.produce("quiet-1", interval=0.5)
    page.goto(stack.url)
    wait_points(page, "quiet-1", 3)
    item = page.locator(".legend-item", has_text="quiet-1 · cpu.percent")
    assert "is-stale" not in (item.get_attribute("class") or "")
    live_colour = page.evaluate(f"{DEBUG}.drawn.find(d => d.label === 'quiet-1 · cpu.percent').colour")
    assert producer.stop() == 0

    # --stale-seconds 3 on the relay's clock: greyed, dashed, age in legend and tooltip
    wait_for(lambda: "is-stale" in (item.get_attribute("class") or ""), 15, "quiet-1 to turn stale")
    wait_for(lambda: re.search(r"stale: nothing for \d+ s", item.inner_text()), 5, "the age in the legend")
    stale = page.evaluate(f"{DEBUG}.drawn.find(d => d.label === 'quiet-1 · cpu.percent')")
    assert stale["colour"] != live_colour and stale["colour"] == "#6e7781"
    tooltip = page.evaluate("""() => {
        const label = 'quiet-1 · cpu.percent';
        const c = Object.values(Chart.instances).find(c => c.data.datasets.some(d => d.label === label));
        const i = c.data.datasets.findIndex(d => d.label === label);
        const n = c.getDatasetMeta(i).data.length - 1;
        const el = c.getDatasetMeta(i).data[n];
        c.tooltip.setActiveElements([{datasetIndex: i, index: n}], {x: el.x, y: el.y});
        c.update('none');
        return c.tooltip.body.flatMap(b => b.lines);
    }""")
    assert any(re.search(r"quiet-1 · cpu\.percent: .* — stale: nothing for \d+ s", line) for line in tooltip), tooltip

    stack.produce("quiet-1", interval=0.5)  # back: restored without a reload
    wait_for(lambda: "is-stale" not in (item.get_attribute("class") or ""), 15, "quiet-1 to be live again")
    assert page.evaluate(f"{DEBUG}.drawn.find(d => d.label === 'quiet-1 · cpu.percent').colour") == live_colour
    assert page.errors == []


def test_hostile_host_name_is_text_everywhere_and_runs_nothing(page, stack):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    now = now_ms()
    stack.send(HOSTILE, [(now - 5000 + i * 1000, {"cpu.percent": 5.0 * i}) for i in range(5)])
    page.goto(stack.url)
    label = f"{HOSTILE} · cpu.percent"
    wait_for(lambda: len(series_on_page(page).get(label, [])) == 5, 30, "the hostile host's line")
    wait_for(lambda: label in page.locator(".legend-label").all_inner_texts(), 10, "the legend entry, as text")
    open_picker(page)
    assert HOSTILE in page.locator("#host-list").all_inner_texts()[0]
    page.get_by_label("Search hosts").fill("<img")
    assert page.locator("#host-list li:not([hidden])").all_inner_texts() == [HOSTILE]

    click(page, "Plotly", "Renderer")
    wait_for(lambda: label in page.locator("#plotly-graph .legendtext").all_text_contents(), 30,
             "the Plotly legend entry, as text")
    assert page.evaluate("document.querySelectorAll('img, [onerror]').length") == 0, "no element made from the name"
    assert dialogs == []
    assert page.errors == []


def test_theme_follows_the_os_and_the_url_and_controls_work_from_the_keyboard(browser, stack):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="dark")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        stack.send("keys-1", [(now_ms() - 3000 + i * 1000, {"cpu.percent": 50.0, "mem.used_percent": 20.0})
                              for i in range(3)])
        page.goto(stack.url)
        wait_for(lambda: "keys-1 · cpu.percent" in series_on_page(page), 30, "keys-1 on the page")
        html = "document.documentElement.dataset.theme"
        assert page.evaluate(html) == "dark", "auto follows the OS preference"
        bg = "getComputedStyle(document.body).backgroundColor"
        assert page.evaluate(bg) == "rgb(13, 17, 23)"

        # Tab order reaches the controls; Enter/Space press them; state shows in aria-pressed and URL
        page.locator("#host-summary").focus()
        for _ in range(30):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent") == "Light":
                break
        assert page.evaluate("document.activeElement.id") == "theme-light"
        page.keyboard.press("Enter")
        wait_for(lambda: page.evaluate(html) == "light", 5, "the light theme")
        assert page.evaluate(bg) == "rgb(255, 255, 255)"
        assert "theme=light" in href(page)
        assert page.get_by_role("button", name="Light").get_attribute("aria-pressed") == "true"
        page.get_by_role("group", name="Time window").get_by_role("button", name="5 m", exact=True).focus()
        page.keyboard.press("Space")
        wait_for(lambda: "window=5m" in href(page), 5, "the window chosen with the keyboard")

        # The legend is one tab stop; arrows move inside it; Enter hides and shows a series
        legend = page.locator(".legend-item", has_text="keys-1 · cpu.percent")
        legend.focus()
        page.keyboard.press("Enter")
        hidden = f"{DEBUG}.drawn.find(d => d.label === 'keys-1 · cpu.percent').hidden"
        wait_for(lambda: page.evaluate(hidden) is True, 5, "the series hidden from the legend")
        assert legend.get_attribute("aria-pressed") == "false"
        page.keyboard.press("Enter")
        wait_for(lambda: page.evaluate(hidden) is False, 5, "the series shown again")

        page.goto(stack.url + "?theme=dark")  # the URL wins over the OS
        page.emulate_media(color_scheme="light")
        wait_for(lambda: page.evaluate(html) == "dark", 10, "the URL's dark theme")
        # every control has an accessible name (the test would not find them by role and name otherwise)
        for name in ("Pause", "1 m", "1 h", "24 h", "Chart.js", "Plotly", "Auto", "Dark"):
            assert page.get_by_role("button", name=name, exact=True).count() == 1, name
        assert page.get_by_role("status").filter(has_text="live").count() == 1
        assert errors == []
    finally:
        context.close()


def test_plotly_is_chosen_when_chartjs_fails_to_load(page, stack):
    stack.send("nochart-1", [(now_ms() - 2000 + i * 1000, {"cpu.percent": 1.0, "mem.used_percent": 2.0})
                             for i in range(2)])
    page.route(re.compile(r".*chart\.umd\.min\.js.*"), lambda route: route.abort())
    page.goto(stack.url)
    wait_for(lambda: page.evaluate(DEBUG)["renderer"] == "plotly", 30, "the Plotly fallback")
    wait_points(page, "nochart-1", 2, PLOTLY_POINTS)
    chartjs = page.get_by_role("button", name="Chart.js", exact=True)
    assert chartjs.get_attribute("aria-disabled") == "true"
    chartjs.focus()
    page.keyboard.press("Enter")
    assert page.evaluate(DEBUG)["renderer"] == "plotly", "no switch to a library that is not there"
    assert "renderer=plotly" in href(page)


def test_empty_state_then_badge_reconnects_when_the_dashboard_restarts(page, kafka_broker, tmp_path):
    topic = f"empty-{now_ms()}"
    kafka_broker.create_topic(topic, partitions=1)
    port = free_port()
    args = ["-m", "dash_app", "--port", str(port), "--bootstrap-servers", kafka_broker.bootstrap_servers,
            "--topic", topic]
    url = f"http://127.0.0.1:{port}/"

    def start(name: str) -> Process:
        proc = Process(args, tmp_path / f"{name}.log")
        wait_for(lambda: proc.proc.poll() is None and page.request.get(url + "healthz").ok, 60, "the dashboard")
        return proc

    dash = start("first")
    try:
        page.goto(url)
        empty = page.locator("#empty-state")
        wait_for(lambda: "is the producer running?" in empty.inner_text(), 20, "the empty state")
        assert f"No data on topic {topic} from {kafka_broker.bootstrap_servers} yet" in empty.inner_text()
        badge = page.locator("#conn-state")
        wait_for(lambda: badge.inner_text() == "live", 20, "the live badge")

        dash.stop()
        wait_for(lambda: re.fullmatch(r"reconnecting in \d+ s", badge.inner_text()), 15, "the reconnecting badge")
        assert page.get_by_role("status").filter(has_text="reconnecting").count() == 1
        dash = start("second")  # same port: the page's backoff finds it
        wait_for(lambda: badge.inner_text() == "live", 30, "the live badge after the restart")
        assert page.evaluate(DEBUG)["socketOpen"] is True
        assert page.errors == []
    finally:
        dash.stop()
