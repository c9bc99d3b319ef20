"""Item 3 of issue 11: Parquet parts, read back with pyarrow and queried with DuckDB (the
README's query, verbatim)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from adgate_async.testing import Answer, StandInServer

from .test_cli import env_for, run_cli, urls

pa = pytest.importorskip("pyarrow", reason="the parquet extra (pyarrow) is not installed")
pq = pytest.importorskip("pyarrow.parquet", reason="the parquet extra is not installed")
duckdb = pytest.importorskip("duckdb", reason="duckdb (a dev dependency) is not installed")

#: The query shown in README "Batch jobs" (kept identical: this test runs it).
README_QUERY = """
SELECT o.offer_id, any_value(o.anchor) AS anchor, count(*) AS users,
       sum(o.points) AS points
FROM (SELECT unnest(offers) AS o FROM read_parquet('out/part-*.parquet'))
GROUP BY o.offer_id
ORDER BY points DESC, o.offer_id
LIMIT 10
"""


def test_the_readme_shows_exactly_the_tested_query() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert "```sql" + README_QUERY + "```" in readme


async def test_parquet_parts_hold_one_typed_row_per_user_and_answer_the_readme_query(
    adgate_server: StandInServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adgate_server.always("u3", Answer.ban(support_id=99))
    adgate_server.always("u5", Answer.error(404))
    ids = [f"u{i}" for i in range(25)]
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    rc, _, stderr = await run_cli("bulk", str(tmp_path / "ids.txt"), "-o",
                                  str(tmp_path / "out"), "--format", "parquet",
                                  "--shard-size", "10", *urls(adgate_server),
                                      env=env_for(adgate_server))
    assert rc == 0, stderr
    parts = sorted((tmp_path / "out").glob("part-*.parquet"))
    assert [p.name for p in parts] == ["part-00000.parquet", "part-00001.parquet",
                                       "part-00002.parquet"]
    assert json.loads((tmp_path / "out" / "_SUCCESS").read_text())["parts"] == 3

    table = pq.read_table(tmp_path / "out")
    assert table.num_rows == 25
    assert table.schema.field("index").type == pa.int64()
    assert table.schema.field("user_id").type == pa.string()
    assert table.schema.field("ok").type == pa.bool_()
    assert table.schema.field("error_type").type == pa.string()
    offers_type = table.schema.field("offers").type
    assert pa.types.is_list(offers_type)
    assert pa.types.is_struct(offers_type.value_type)
    assert pa.types.is_list(offers_type.value_type.field("events").type)
    rows = {r["user_id"]: r for r in table.to_pylist()}
    assert sorted(r["index"] for r in rows.values()) == list(range(25))
    assert rows["u3"]["ok"] is False
    assert (rows["u3"]["error_type"], rows["u3"]["error_status"],
            rows["u3"]["error_code"], rows["u3"]["error_support_id"]) == (
        "UserBannedError", 403, "USER_BANNED", 99)
    assert rows["u3"]["offers"] is None
    assert rows["u5"]["error_type"] == "NotFoundError"
    assert rows["u0"]["ok"] is True
    assert rows["u0"]["error_type"] is None
    assert len(rows["u0"]["offers"]) == 3
    assert rows["u0"]["offers"][0]["events"][0]["uuid"]

    # The README's query, against the same directory, compared with the rows themselves.
    monkeypatch.chdir(tmp_path)
    top = duckdb.sql(README_QUERY).fetchall()
    points: Counter[int] = Counter()
    users: Counter[int] = Counter()
    for r in rows.values():
        for offer in r["offers"] or []:
            points[offer["offer_id"]] += offer["points"]
            users[offer["offer_id"]] += 1
    expected = sorted(points, key=lambda k: (-points[k], k))[:10]
    assert [t[0] for t in top] == expected
    assert [t[2] for t in top] == [users[k] for k in expected]
    assert [t[3] for t in top] == pytest.approx([points[k] for k in expected])
