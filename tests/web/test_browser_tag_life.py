"""In headless Chromium: an operator rejects a request with a reason, deactivates a lost
tag and replaces another from the console; the owner's portal shows all three."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from smartcity_iot.config import Settings
from smartcity_iot.web.server import WebServer

from ..support import free_port
from .browser import browser, shot  # noqa: F401 - fixture
from .conftest import DOG, PASSWORD, User, active_tag
from .test_browser import log_in, log_out, wait

REASON = "狂犬疫苗证号无效，请核对后重新申请"


@pytest.fixture
def console(web_settings: Settings) -> Iterator[WebServer]:
    server = WebServer(web_settings.model_copy(update={"http": f"127.0.0.1:{free_port()}"}))
    server.start()
    yield server
    server.stop()


def row(b, css: str):  # type: ignore[no-untyped-def]
    return wait(b).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def test_an_operator_rejects_deactivates_and_replaces_and_the_owner_sees_why(
    browser,  # noqa: F811 - fixture
    console: WebServer,
    signup: Callable[..., User],
    operator: User,
) -> None:
    # given an owner with a waiting request and two active tags
    owner = signup("13900000081")
    lost = active_tag(owner, operator)["approval"]["tag_id"]
    broken = active_tag(owner, operator)["approval"]["tag_id"]
    dog = owner.post("/api/owner/dogs", {**DOG, "name": "豆豆"}).json()
    rid = owner.post(
        f"/api/owner/dogs/{dog['id']}/tag-requests", {"postal_address": "衢州市柯城区 81 号"}
    ).json()["id"]
    b = browser
    log_in(b, console.url, "op1", PASSWORD)
    wait(b).until(EC.url_contains("/console"))
    b.find_element(By.CSS_SELECTOR, "[data-tab='requests']").click()

    # when the operator rejects the request with a reason
    row(b, f"[data-reject-reason='{rid}']").send_keys(REASON)
    b.find_element(By.CSS_SELECTOR, f"[data-reject='{rid}']").click()
    row(b, f"tr[data-request='{rid}'][data-status='rejected']")
    # and deactivates one tag as lost
    Select(row(b, f"[data-deactivate-reason='{lost}']")).select_by_value("lost")
    b.find_element(By.CSS_SELECTOR, f"[data-deactivate='{lost}']").click()
    wait(b).until(EC.text_to_be_present_in_element((By.ID, "requests-msg"), lost))
    # and replaces the broken one: a new serial and its code, shown once
    Select(row(b, f"[data-deactivate-reason='{broken}']")).select_by_value("broken")
    b.find_element(By.CSS_SELECTOR, f"[data-replace='{broken}']").click()
    msg = row(b, "#requests-msg[data-code]")
    new = msg.get_attribute("data-serial")
    assert new and new != broken
    row(b, "tr[data-status='approved'] [data-ship]")
    shot(b, "operator-tag-life")
    log_out(b)

    # then the owner reads the reason and sees how each tag ended
    log_in(b, console.url, "13900000081", PASSWORD)
    wait(b).until(EC.url_contains("/owner"))
    assert REASON in row(b, f"#requests-table [data-reason='{rid}']").text
    assert "丢失" in row(b, f"#tags-table [data-reason='{lost}']").text
    assert new in row(b, f"#tags-table [data-reason='{broken}']").text
    statuses = {
        t.get_attribute("data-tag"): t.find_element(By.CSS_SELECTOR, "[data-status]").get_attribute(
            "data-status"
        )
        for t in b.find_elements(By.CSS_SELECTOR, "#tags-table tr[data-tag]")
    }
    assert statuses == {lost: "inactive", broken: "inactive"}  # the new tag is not posted yet
    shot(b, "owner-tag-life")
