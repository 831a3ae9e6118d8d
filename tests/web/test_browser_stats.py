"""The statistics tab in headless Chromium, in Chinese and in English: the charts drew
(Chart.js holds the seeded numbers), the tables beside them show the same numbers in the
reader's language, the repeat offenders link to their cases, and the page's CSP holds."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from smartcity_iot.config import Settings
from smartcity_iot.web.server import WebServer

from ..i18n_check import foreign
from ..support import free_port
from .browser import browser, shot  # noqa: F401 - fixture
from .conftest import PASSWORD, User
from .test_browser import log_in, wait
from .test_browser_map import CSP_PROBE, no_csp_violations
from .test_stats import seed

# what the seeded cases read as, per language (tests/web/test_stats.py has the arithmetic)
EXPECTED = {
    "zh": {
        "resolution_rate": "75%",
        "resolved": "6 / 8",
        "median_acknowledge": "4 分钟",
        "median_dispatch": "15 分钟",
        "median_close": "1.3 小时",
        "squad": "G-02 中队",
    },
    "en": {
        "resolution_rate": "75%",
        "resolved": "6 of 8",
        "median_acknowledge": "4 min",
        "median_dispatch": "15 min",
        "median_close": "1.3 h",
        "squad": "Squad G-02",
    },
}
DATA = ["张三", "浙HA1234", "G-01", "G-02", "op1", "值班员一"]


@pytest.fixture
def console(web_settings: Settings) -> Iterator[WebServer]:
    server = WebServer(web_settings.model_copy(update={"http": f"127.0.0.1:{free_port()}"}))
    server.start()
    yield server
    server.stop()


def open_stats(b) -> None:  # type: ignore[no-untyped-def]
    """Open the tab (again: each opening asks the API anew) and wait for it to draw."""
    before = b.execute_script("return document.getElementById('stats').dataset.drawn || ''")
    wait(b).until(EC.element_to_be_clickable((By.CSS_SELECTOR, "[data-tab='stats']"))).click()
    wait(b, 15).until(
        lambda d: (
            d.execute_script("return document.getElementById('stats').dataset.drawn || ''")
            not in ("", before)
        )
    )


def chart_data(b, canvas: str) -> list[list]:  # type: ignore[no-untyped-def]
    return b.execute_script(
        "const c = Chart.getChart(document.getElementById(arguments[0]));"
        "return c ? c.data.datasets.map((d) => d.data) : null;",
        canvas,
    )


def cell(b, css: str) -> str:  # type: ignore[no-untyped-def]
    return b.find_element(By.CSS_SELECTOR, css).text.strip()


def whole_page_shot(b, name: str) -> None:  # type: ignore[no-untyped-def]
    """The whole tab in one picture: the window as tall as the page, then back."""
    size = b.get_window_size()
    b.set_window_size(size["width"], b.execute_script("return document.body.scrollHeight") + 120)
    shot(b, name)
    b.set_window_size(size["width"], size["height"])


def check_tab(b, lang: str, owners: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    want = EXPECTED[lang]
    for measure in (
        "resolution_rate",
        "resolved",
        *(f"median_{s}" for s in ("acknowledge", "dispatch", "close")),
    ):
        assert cell(b, f"#stats-summary [data-measure='{measure}'] td") == want[measure], measure

    # the 721 chart: shares 60/20/20 % against the targets 70/20/10 %
    assert chart_data(b, "chart-721") == [[60, 20, 20], [70, 20, 10]]
    # alerts per day, stacked by kind: the counts add up to the 11 alerts of the window
    assert sum(sum(d) for d in chart_data(b, "chart-daily")) == 11
    days = b.execute_script(
        "return Chart.getChart(document.getElementById('chart-daily')).data.labels"
    )
    assert len(days) == 31  # every day of the window, the quiet ones too
    totals = b.find_elements(By.CSS_SELECTOR, "#stats-daily tbody tr td:last-child")
    assert sum(int(td.text) for td in totals) == 11
    # median minutes per grid (G-01, G-02): acknowledge, dispatch, close
    assert chart_data(b, "chart-grids") == [[2, 7], [12.5, 20], [60, 90]]
    for canvas in b.find_elements(By.CSS_SELECTOR, "#stats canvas"):
        assert canvas.size["width"] > 200 and canvas.size["height"] > 100

    grid = [
        td.text for td in b.find_elements(By.CSS_SELECTOR, "#stats-grids tr[data-grid='G-02'] td")
    ]
    assert grid[:6] == ["G-02", "6", "3", "2", "1", "60%"]
    squad = [
        td.text for td in b.find_elements(By.CSS_SELECTOR, "#stats-squads tr[data-squad='G-02'] td")
    ]
    assert squad[0] == want["squad"] and squad[5] == "66.7%"

    owner = b.find_element(
        By.CSS_SELECTOR, f"#stats-owners tr[data-party='owner:{owners['张三']}']"
    )
    assert [td.text for td in owner.find_elements(By.TAG_NAME, "td")][:2] == ["张三", "2"]
    links = [
        a.get_attribute("href") for a in owner.find_elements(By.CSS_SELECTOR, "a[data-alert-id]")
    ]
    assert [h.rsplit("/", 1)[1] for h in links] == ["a2", "a1"]
    assert all("/console/alerts/" in h for h in links)
    plates = b.find_elements(By.CSS_SELECTOR, "#stats-plates tr[data-party]")
    assert [p.get_attribute("data-party") for p in plates] == ["vehicle:浙HA1234"]  # not 浙HC0001

    # the whole page as the operator sees it: header, tabs and the statistics
    text = b.find_element(By.TAG_NAME, "body").text
    assert foreign(text, lang, data=DATA) == [], text


def test_the_statistics_tab_reads_in_one_language_with_charts_and_tables(
    browser,  # noqa: F811 - fixture
    console: WebServer,
    operator: User,
    conn: sqlite3.Connection,
) -> None:
    b = browser
    b.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_PROBE})
    log_in(b, console.url, "op1", PASSWORD)
    wait(b).until(EC.url_contains("/console"))

    # nothing yet: no rate (nothing is due), no offenders, empty charts
    open_stats(b)
    assert cell(b, "#stats-summary [data-measure='resolution_rate'] td") == "—"
    assert cell(b, "#stats-owners tbody td") == "无" and cell(b, "#stats-plates tbody td") == "无"
    assert chart_data(b, "chart-721") == [[0, 0, 0], [70, 20, 10]]

    owners = seed(conn, time.time())
    b.find_element(By.CSS_SELECTOR, "[data-tab='alerts']").click()
    open_stats(b)
    assert b.find_element(By.CSS_SELECTOR, "#tab-stats h2").text == "统计（近 30 天）"
    check_tab(b, "zh", owners)
    no_csp_violations(b)
    whole_page_shot(b, "stats-zh")

    b.add_cookie({"name": "lang", "value": "en", "path": "/"})
    b.refresh()
    open_stats(b)
    assert b.find_element(By.CSS_SELECTOR, "#tab-stats h2").text == "Statistics, last 30 days"
    check_tab(b, "en", owners)
    no_csp_violations(b)
    whole_page_shot(b, "stats-en")

    # a case link opens the alert page
    b.find_element(By.CSS_SELECTOR, "#stats-plates a[data-alert-id='a4']").click()
    wait(b).until(EC.url_contains("/console/alerts/a4"))
