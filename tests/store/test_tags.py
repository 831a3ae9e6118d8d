"""A tag's life on each backend: an owner's dog, its request, the operator's approval and
shipping, the owner's activation with its broker credential, then rejection,
deactivation and replacement with their lines in tag_events."""

from __future__ import annotations

import pytest

from smartcity_iot.store import credentials, dogs, registry, tag_life
from smartcity_iot.store.database import Connection
from smartcity_iot.store.errors import AccountError

DOG = {"name": "旺财", "breed": "中华田园犬", "sex": "male", "birth_date": "2021-05-01"}
ADDRESS = "浙江省衢州市柯城区府山街道 1 号"


def owner(db: Connection) -> int:
    tag = registry.register_active_tag(db, "TAG-0001", "Lucky", "张三", "13900000001")
    return int(tag["owner_id"])


def test_a_dog_is_requested_approved_shipped_and_activated(db: Connection) -> None:
    owner_id = owner(db)
    dog = dogs.add_dog(db, owner_id, DOG)
    assert dog["name"] == "旺财" and dog["can_request"] is True
    request = dogs.request_tag(db, owner_id, dog["id"], ADDRESS)
    assert request["status"] == "requested"
    with pytest.raises(AccountError, match="in progress"):
        dogs.request_tag(db, owner_id, dog["id"], ADDRESS)
    approval = dogs.approve_request(db, request["id"], "op1")
    with pytest.raises(AccountError, match="(?i)already approved"):
        dogs.approve_request(db, request["id"], "op1")
    assert dogs.ship_request(db, request["id"], "op1")["status"] == "shipped"
    tag = credentials.activate_tag(db, owner_id, approval["tag_id"], approval["activation_code"])
    assert tag["status"] == "active"
    with pytest.raises(AccountError):  # the code is single-use
        credentials.activate_tag(db, owner_id, approval["tag_id"], approval["activation_code"])
    lines = credentials.mosquitto_password_file(db, reserved=())
    assert lines.startswith(f"{approval['tag_id']}:$7$")
    assert {t["tag_id"] for t in dogs.list_tags(db, owner_id)} == {"TAG-0001", approval["tag_id"]}
    assert dogs.get_dog(db, owner_id, dog["id"])["tag_status"] == "active"
    assert [r["id"] for r in dogs.all_tag_requests(db, "active")] == [request["id"]]


def test_rejected_deactivated_and_replaced_tags_keep_their_history(db: Connection) -> None:
    owner_id = owner(db)
    dog = dogs.add_dog(db, owner_id, DOG)
    first = dogs.request_tag(db, owner_id, dog["id"], ADDRESS)
    tag_life.reject_request(db, first["id"], "op1", "address incomplete")
    with pytest.raises(AccountError, match="(?i)already rejected"):
        tag_life.reject_request(db, first["id"], "op1", "again")
    second = dogs.request_tag(db, owner_id, dog["id"], ADDRESS)
    serial = dogs.approve_request(db, second["id"], "op1")["tag_id"]
    new = tag_life.replace(db, serial, "op1", reserved=(), cause="lost")
    with pytest.raises(AccountError, match="already replaced"):
        tag_life.replace(db, serial, "op1", reserved=())
    tag_life.deactivate(db, new["tag_id"], "op1", "deceased")
    with pytest.raises(AccountError, match="deceased"):
        dogs.request_tag(db, owner_id, dog["id"], ADDRESS)
    assert [e["action"] for e in tag_life.events(db, tag_id=serial)] == ["approve", "replace"]
    history = tag_life.events(db, tag_id=new["tag_id"])
    assert [e["action"] for e in history] == ["approve", "deactivate"]
    assert history[1]["detail"] == {"reason": "deceased", "from": "approved"}
    assert dogs.tag_dog_names(db, owner_id)[new["tag_id"]] == "旺财"
