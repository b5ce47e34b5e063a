"""An officer user must be an officer of the workspace (not a beat id)."""

from __future__ import annotations

import uuid

from .conftest import PASSWORD, ApiEnv


def _add_user(api_env: ApiEnv, role: str, **scope: str):
    """``POST /users`` as the admin, a fresh username, the given role and scope."""
    return api_env.client.post(
        "/users",
        headers=api_env.auth("admin"),
        json={"username": f"u{uuid.uuid4().hex[:8]}", "password": PASSWORD, "role": role, **scope},
    )


def test_officer_user_names_an_officer_of_the_workspace(api_env: ApiEnv) -> None:
    def add(officer_id: str):
        return _add_user(api_env, "officer", officer_id=officer_id)

    r = add("BEAT-NAKA1")
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "officer_id: found 'BEAT-NAKA1', not an officer of the workspace; "
        "expected an officer_id of the officers layer"
    )
    assert add("O-NAKA1").status_code == 201


def test_manager_user_station_as_the_police_list_writes_it(api_env: ApiEnv) -> None:
    def add(station: str):
        return _add_user(api_env, "manager", station=station)

    r = add("金沢東警察署")
    assert r.status_code == 201, r.text
    assert r.json()["station"] == "金沢東"  # as the koban layer stores it: the scope matches
    r = add("金沢西警察署")
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "station: found '金沢西警察署', the station of no koban in the workspace; "
        "expected one of 金沢中, 金沢東"
    )
