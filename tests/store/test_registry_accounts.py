"""The registry and web accounts on each backend (the `db` fixture: SQLite, PostgreSQL):
owners by phone, one-time codes, accounts, sessions and rate limits."""

from __future__ import annotations

import pytest

from smartcity_iot.store import attempts, codes, registry, sessions, users
from smartcity_iot.store.database import Connection
from smartcity_iot.store.errors import AccountError

PASSWORD = "correct horse battery staple"


def test_registering_a_tag_twice_for_the_same_dog_changes_nothing(db: Connection) -> None:
    first = registry.register_active_tag(db, "TAG-0001", "旺财", "张三", "139 0000 0001")
    again = registry.register_active_tag(db, "TAG-0001", "旺财", "张三", "13900000001")
    assert first == again
    assert registry.list_registry(db) == [
        {
            "tag_id": "TAG-0001",
            "status": "active",
            "dog": "旺财",
            "owner": "张三",
            "phone": "13900000001",
        }
    ]


def test_one_phone_is_one_owner_and_a_tag_has_one_dog(db: Connection) -> None:
    a = registry.register_active_tag(db, "TAG-0001", "旺财", "张三", "13900000001")
    b = registry.register_active_tag(db, "TAG-0002", "小白", "张三", "13900000001")
    assert a["owner_id"] == b["owner_id"] and a["dog_id"] != b["dog_id"]
    with pytest.raises(registry.RegistryError, match="another dog"):
        registry.register_active_tag(db, "TAG-0001", "小白", "张三", "13900000001")
    active = registry.active_tags(db)
    assert active["TAG-0002"].party == f"owner:{a['owner_id']}"
    assert registry.tag_status(db, "TAG-0002") == "active"
    assert registry.tag_status(db, "TAG-9999") is None
    health = registry.active_tag_health(db)
    assert [h["tag_id"] for h in health] == ["TAG-0001", "TAG-0002"]
    assert health[0]["owner_phone"] == "13900000001" and health[0]["last_seen"] is None


def test_a_code_proves_the_phone_once(db: Connection) -> None:
    code = codes.issue(db, "13900000001", "signup")
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(codes.CodeError, match="4 tries left"):
        codes.redeem(db, "13900000001", "signup", wrong)
    proof = codes.redeem(db, "13900000001", "signup", code)
    assert (proof.phone, proof.purpose) == ("13900000001", "signup")
    with pytest.raises(codes.CodeError):
        codes.redeem(db, "13900000001", "signup", code)


def test_a_signed_up_owner_links_to_the_registry_and_logs_in(db: Connection) -> None:
    tag = registry.register_active_tag(db, "TAG-0001", "旺财", "张三", "13900000001")
    proof = codes.redeem(db, "13900000001", "signup", codes.issue(db, "13900000001", "signup"))
    user = users.create_owner_account(db, proof, "张三", PASSWORD)
    assert user.owner_id == tag["owner_id"] and isinstance(user.id, int)
    with pytest.raises(AccountError):
        users.create_owner_account(db, proof, "张三", PASSWORD)
    assert users.authenticate(db, "139 0000 0001", PASSWORD) == user
    assert users.authenticate(db, "13900000001", "wrong password here") is None
    token, csrf = sessions.new_session(db, user)
    assert sessions.session_user(db, token) == (user, csrf)
    sessions.new_session(db, user)
    assert sessions.end_user_sessions(db, user.id) == 2
    assert sessions.session_user(db, token) is None


def test_an_operator_is_created_once_and_its_password_reset(db: Connection) -> None:
    op = users.create_operator(db, "op1", PASSWORD, "值班员")
    assert op.role == "operator" and op.owner_id is None
    with pytest.raises(AccountError):
        users.create_operator(db, "op1", PASSWORD)
    token, _ = sessions.new_session(db, op)
    users.set_operator(db, "op1", "another long password")
    assert sessions.session_user(db, token) is None
    assert users.authenticate(db, "op1", "another long password") is not None


def test_rate_limit_refuses_past_its_limit_and_gives_back(db: Connection) -> None:
    limit = [attempts.Limit("login:op1", 2, 60.0)]
    attempts.reserve(db, limit, now=1000.0)
    second = attempts.reserve(db, limit, now=1001.0)
    with pytest.raises(attempts.Refused) as refused:
        attempts.reserve(db, limit, now=1002.0)
    assert refused.value.retry_after_s == pytest.approx(58.0)
    attempts.give_back(db, second, "login:op1")
    assert attempts.count(db, "login:op1", 60.0, now=1002.0) == 1
    attempts.reserve(db, limit, now=1002.0)
    attempts.clear(db, "login:op1")
    assert attempts.count(db, "login:op1", 60.0, now=1002.0) == 0
