"""The support page at 100 and at 100,000 tickets (issue 15), SQLite and PostgreSQL.

For each backend and size a database is made by ``db.upgrade`` and filled in
bulk by ``sweep.load`` (no intake: 100,000 tickets in seconds; 2.5 % open, the
rest closed, 1 message each, realistic subjects and texts in Russian and
English); on SQLite the search index is then caught up (timed apart). The real
gateway then serves it (``running_gateway``: Starlette, uvicorn, the HTTP
listener on a free port) and an operator's client asks, each ``--repeat`` times. Both
sizes of a backend are served at once and asked in turn, one request each, so a busy
moment of the shared machine falls on both alike and the ratio stays honest:

* ``queue``: ``/op`` (the default view "needs us", first page) and ``queue_all``: the
  first page of all tickets by number. Both are a full page of 50 rows at both sizes:
  at 2.5 % open, 100 tickets would give the default view 1 or 2 rows, so a database too
  small for a full first page (``--open-share``) is made with every ticket open, in the
  same mix as the open ones at 100,000 (40 % waiting for the customer, 40 % awaiting an
  operator, 20 % in progress). The rows each page rendered are in the results.
* ``page50``: page 50 of the "all" view by number, reached by following the next
  links (keyset); at 100 tickets, the last page there is
* ``search``: a common Russian word (``сертификат``, one ticket in ~10) and
  ``search_site``: one site's domain, as a person types it (a ticket or two)
* ``ticket``: the ticket in the middle

Time to first byte (the response's headers arrive) median and p90, and the
HTML size. Target: the 100,000 figure within 1.5x of the 100 figure, no page
over 150 KB.

    nice .venv/bin/python bench/page.py [--sizes 100,100000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sweep import load, open_backend

from gateway.clock import FrozenClock
from gateway.config import load_settings
from gateway.store import db, search
from gateway.testing import running_gateway

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NEXT = re.compile(r'href="([^"]+)" rel="next"')
PAGES = ("queue", "queue_all", "page50", "search", "search_site", "ticket")


def once(client: httpx.Client, url: str) -> tuple[float, bytes]:
    """Seconds to the response's first byte (its headers), and the body."""
    t0 = time.perf_counter()
    with client.stream("GET", url) as r:
        took = time.perf_counter() - t0
        body = r.read()
        assert r.status_code == 200, (url, r.status_code)
    return took, body


def figures(times: list[float], body: bytes) -> dict[str, Any]:
    """Median and p90 time to first byte, the HTML's size and the rows it shows."""
    times = sorted(times)
    return {
        "ms": round(statistics.median(times) * 1000, 1),
        "p90_ms": round(times[int(len(times) * 0.9) - 1] * 1000, 1),
        "kb": round(len(body) / 1024, 1),
        "rows": rows(body.decode()),
    }


def page50(client: httpx.Client) -> str:
    url = "/op?view=all&sort=number"
    for _ in range(49):
        found = NEXT.search(client.get(url).text)
        if not found:
            break
        url = found.group(1).replace("&amp;", "&")
    return url


def open_share(n: int, small: float) -> float:
    """2.5 % open; ``small`` when that would not fill the default view's first page
    (needs us: 60 % of the open tickets) with a page of 50 and a next link."""
    return 0.025 if n * 0.025 * 0.6 > 60 else small


def rows(html: str) -> int:
    """The tickets a page shows: queue rows or search results."""
    return html.count('class="queue-row"') + html.count('class="msg result"')


@contextmanager
def served(backend_name: str, n: int, small_share: float) -> Iterator[Served]:
    """A generated database of ``n`` tickets, served by the real gateway, an operator signed in."""
    clock = FrozenClock()
    share = open_share(n, small_share)
    with open_backend(backend_name, f"page{n}") as backend:
        db.upgrade(backend.engine)
        t0 = time.perf_counter()
        shape, _ = load(backend, n, 0, clock(), open_share=share)
        loaded = time.perf_counter() - t0
        t0 = time.perf_counter()
        engine = db.make_engine(backend.url)
        with db.transaction(db.session_factory(engine)) as session:
            indexed = search.catch_up(session)
        engine.dispose()
        index_s = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as work:
            settings = load_settings(
                environ={},
                data_dir=Path(work),
                database_url=backend.url,
                domain="example.com",
                listen="smtp://127.0.0.1:0",
                intake_writer="thread",
            )
            settings = replace(settings, http_listen="http://127.0.0.1:0")
            with running_gateway(settings, clock) as gw:
                gw.gateway.wiring.desk.add_operator("Анна", "anna@example.com", "pw")
                host, port = gw.gateway.http_bound
                with httpx.Client(base_url=f"http://{host}:{port}", timeout=60) as c:
                    token = CSRF.search(c.get("/op/login").text).group(1)
                    c.post("/op/login", data={"csrf": token, "login": "anna@example.com",
                                              "password": "pw"})  # fmt: skip
                    with backend.engine.connect() as conn:
                        site = conn.execute(
                            text("SELECT subject FROM tickets WHERE id >= :i"
                                 " AND subject LIKE '%.ru%' ORDER BY id LIMIT 1"),
                            {"i": n // 2},
                        ).scalar()  # fmt: skip
                    word = next(w for w in site.split() if w.endswith(".ru"))
                    pages = {
                        "queue": "/op",
                        "queue_all": "/op?view=all&sort=number",
                        "page50": page50(c),
                        "search": "/op/search?q=сертификат",
                        "search_site": f"/op/search?q={word}",
                        "ticket": f"/op/tickets/{n // 2}",
                    }
                    for url in pages.values():
                        c.get(url)  # warm: the first request of each kind compiles templates
                    about = {
                        "backend": backend_name,
                        "tickets": n,
                        "open_share": share,
                        "statuses": shape.statuses,
                        "load_s": round(loaded, 1),
                        "index_s": round(index_s, 1),
                        "indexed": indexed,
                    }
                    yield Served(about, c, pages)


@dataclass
class Served:
    about: dict[str, Any]
    client: httpx.Client
    pages: dict[str, str]


def run(backend_name: str, sizes: list[int], repeat: int, small_share: float) -> list[dict]:
    """Every size of one backend served at once and asked in turn, request by request, so
    that a busy moment of the shared machine falls on both sizes alike."""
    with ExitStack() as stack:
        all_served = [stack.enter_context(served(backend_name, n, small_share)) for n in sizes]
        # serve runs every 30-day job once at start (over 100,000 tickets, a few seconds
        # of writes); the page is measured after them, as it is used.
        time.sleep(float(os.environ.get("PAGE_SETTLE", "8")))
        times: dict[tuple[int, str], list[float]] = {}
        bodies: dict[tuple[int, str], bytes] = {}
        for _ in range(repeat):
            for key in PAGES:
                for i, one in enumerate(all_served):
                    took, bodies[i, key] = once(one.client, one.pages[key])
                    times.setdefault((i, key), []).append(took)
        return [
            {**one.about, "pages": {k: figures(times[i, k], bodies[i, k]) for k in PAGES}}
            for i, one in enumerate(all_served)
        ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,100000")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument(
        "--open-share",
        type=float,
        default=1.0,
        help="open tickets in a database too small to fill the default view (default 1.0)",
    )
    ap.add_argument("--json-out", default="bench/results/page.json")
    args = ap.parse_args()
    results = []
    sizes = [int(s) for s in args.sizes.split(",")]
    for backend_name in args.backends.split(","):
        for r in run(backend_name, sizes, args.repeat, args.open_share):
            results.append(r)
            print(json.dumps(r, ensure_ascii=False), flush=True)
    print(f"\n{'page':<12} " + " ".join(f"{r['backend'][:6]}@{r['tickets']:>6}" for r in results))
    for key in PAGES:
        cells = " ".join(
            f"{r['pages'][key]['ms']:>7.1f}ms {r['pages'][key]['kb']:>5.1f}KB"
            f" {r['pages'][key]['rows']:>3}r"
            for r in results
        )
        print(f"{key:<12} {cells}")
    Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json_out).write_text(
        json.dumps({"date": str(FrozenClock()().astimezone(UTC)), "results": results}, indent=1)
    )


if __name__ == "__main__":
    main()
