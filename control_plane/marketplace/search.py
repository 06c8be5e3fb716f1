"""Full-text search of listings with the database's own engine: Postgres `to_tsvector` /
`to_tsquery` (English stemming, GIN index; every word must match, the last as a prefix), SQLite FTS5 (porter stemmer, every word must
match, the last one as a prefix). The FTS5 table is kept by `index_listing` on every change."""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, column, delete, func, insert, literal_column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.marketplace.models import Listing

FTS = table("marketplace_listings_fts", column("listing_id"), column("body"))
WORD = re.compile(r"\w+", re.UNICODE)


def dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def search_text(listing: Listing) -> str:
    return " ".join([listing.title, listing.summary, listing.category, " ".join(listing.tags)])


async def index_listing(session: AsyncSession, listing: Listing) -> None:
    listing.search_text = search_text(listing)
    if dialect(session) == "sqlite":
        await session.execute(delete(FTS).where(FTS.c.listing_id == listing.id))
        await session.execute(insert(FTS).values(listing_id=listing.id, body=listing.search_text))


def matches(session: AsyncSession, text: str) -> ColumnElement[bool] | None:
    """A WHERE clause selecting listings whose text matches `text` (None: no words in it)."""
    words = WORD.findall(text)[:16]
    if not words:
        return None
    if dialect(session) == "postgresql":
        vector = func.to_tsvector(literal_column("'english'"), Listing.search_text)
        return vector.op("@@")(func.to_tsquery(literal_column("'english'"), _pg_query(words)))
    query = " ".join(f'"{word}"' for word in words[:-1]) + f' "{words[-1]}"*'
    found = select(FTS.c.listing_id).where(
        literal_column("marketplace_listings_fts").op("MATCH")(query)
    )
    return Listing.id.in_(found)


def rank(session: AsyncSession, text: str) -> ColumnElement[float] | None:
    if dialect(session) != "postgresql" or not WORD.findall(text):
        return None
    vector = func.to_tsvector(literal_column("'english'"), Listing.search_text)
    query = func.to_tsquery(literal_column("'english'"), _pg_query(WORD.findall(text)[:16]))
    return func.ts_rank(vector, query)


def _pg_query(words: list[str]) -> str:
    """Every word (only word characters reach here), the last one as a prefix."""
    return " & ".join([*words[:-1], f"{words[-1]}:*"])
