"""Search on the support page (issue 15): operators over every ticket, customers over theirs.

Ranked full text in Russian and English (``store.search``), a ticket number or
a customer's address as exact matches, the matching words marked. On SQLite
the search first appends new messages to its index, so it runs in a write
transaction there.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.store import db
from gateway.web import auth, lists
from gateway.web.identity import CustomerBase
from gateway.web.page import Site

MAX_QUERY = 500


def routes(site: Site) -> list[Route]:
    pages = SearchPages(site)
    return [
        Route("/tickets/search", pages.customer_search),
        Route("/op/search", pages.operator_search),
    ]


class SearchPages(CustomerBase):
    async def _search(self, fn: Any) -> Any:
        def run() -> Any:
            with db.transaction(self.backend.sessions) as session:
                return fn(session)

        return await run_in_threadpool(run)

    async def customer_search(self, request: Request) -> Response:
        person = await self.need(request)
        lang = self._lang(request)
        query = request.query_params.get("q", "")[:MAX_QUERY]
        page = await self._search(
            lambda s: lists.search_page(s, query, lang, customer_id=person.id, operator=False)
        )
        return self.site.render(request, "search.html", action="/tickets/search", **page)

    async def operator_search(self, request: Request) -> Response:
        who = await self._search(lambda s: auth.open_operator(s, request))
        if who is None:
            request.session.pop(auth.OPERATOR_KEY, None)
            raise auth.NotSignedIn("/op/login")
        request.state.operator = who
        lang = self._lang(request)
        query = request.query_params.get("q", "")[:MAX_QUERY]

        def read(session: Any) -> dict[str, Any]:
            page = lists.search_page(session, query, lang, customer_id=None, operator=True)
            return {**page, "inbox": lists.header_counts(session)}

        page = await self._search(read)
        return self.site.render(request, "search.html", action="/op/search", **page)
