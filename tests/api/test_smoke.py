from tests.api.helpers import Api, RelayGroup


def test_group_lifecycle(api: Api) -> None:
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    pid, response = g.put_post(alice, text="secret")
    assert response.status_code == 201, response.get_json()
    page = api.get(f"{g.base}/posts", token=g.token(alice)).get_json()
    assert [p["post_id"] for p in page["posts"]] == [pid]
