"""Pages of API lists (seed 001): `page`, `pageSize`, `sort=+createdAt|-createdAt`; `Link` and `X-Total-Count`."""

from typing import Annotated
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Field, Schema


class Paging(Schema):
    page: int = Field(1, ge=1, le=1_000_000, description="Which page, from 1. Past the last page the list is empty.")
    pageSize: int = Field(
        settings.API_PAGE_SIZE, ge=1, le=settings.API_MAX_PAGE_SIZE, description="Rows per page."
    )
    # "+" arrives as a space when the client does not encode it.
    sort: Annotated[str, Field(pattern=r"^[+ -]?createdAt$")] = Field(
        "-createdAt", description="`-createdAt` (newest first) or `+createdAt` (oldest first)."
    )

    @property
    def ascending(self) -> bool:
        return not self.sort.startswith("-")


def paginate(request: HttpRequest, response: HttpResponse, queryset: QuerySet, paging: Paging) -> list:
    """One page of `queryset` by creation time; sets X-Total-Count and a Link header with first/prev/next/last."""
    total = queryset.count()
    order = ("created_at", "id") if paging.ascending else ("-created_at", "-id")
    start = (paging.page - 1) * paging.pageSize
    rows = list(queryset.order_by(*order)[start : start + paging.pageSize]) if start < total else []
    last = max(1, -(-total // paging.pageSize))
    sort = "+createdAt" if paging.ascending else "-createdAt"

    def link(page: int, rel: str) -> str:
        query = [(name, value) for name, values in request.GET.lists() for value in values if name not in {"page", "pageSize", "sort"}]
        query += [("page", page), ("pageSize", paging.pageSize), ("sort", sort)]
        return f'<{request.build_absolute_uri(request.path)}?{urlencode(query)}>; rel="{rel}"'

    links = [link(1, "first")]
    if paging.page > 1:
        links.append(link(min(paging.page - 1, last), "prev"))
    if paging.page < last:
        links.append(link(paging.page + 1, "next"))
    links.append(link(last, "last"))
    response["Link"] = ", ".join(links)
    response["X-Total-Count"] = str(total)
    return rows
