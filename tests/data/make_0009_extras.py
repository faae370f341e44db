"""Made the whistle, check-in and photos of gridmap-0009.dump through the services of gridmap at schema 0009
(run with PYTHONPATH=<that tree>; see README.md beside this file). Not imported by the tests."""
import io
import os
from datetime import UTC, datetime, timedelta

from PIL import Image
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geo.services import photos, whistles
from geo.services.accounts import load_user


def main() -> None:
    engine = create_engine(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://"))
    with Session(engine) as s, s.begin():
        leader = load_user(s, 2)
        cgw = load_user(s, 3)
        rows = s.execute(text(
            "SELECT case_no, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM cases WHERE street_code = '110102004' "
            "AND status IN ('dispatched','signed','in_progress') AND lead_department = 'CGW' "
            "ORDER BY id LIMIT 3")).all()
        assert rows, "no open case in the leader's street"
        now = datetime.now(UTC) - timedelta(hours=2)
        w = whistles.blow(s, leader, case_nos=[r.case_no for r in rows], lead="CGW", co=["GA"], reason="综合执法",
                          now=now)
        whistles.report(s, cgw, w["id"], lon=rows[0].lon, lat=rows[0].lat, now=now + timedelta(minutes=10))
        buf = io.BytesIO()
        Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, "PNG")
        for r in rows[:2]:
            photos.add_photos(s, leader, r.case_no, [("photo", buf.getvalue())])
    print("ok", w["id"])


if __name__ == "__main__":
    main()
