"""The business API, version 1: price quotes for a basket of items. Small, stateless, and typed, so that the
API contract gate has real request and response models to protect."""

from __future__ import annotations

import enum
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

# Volume discounts in basis points, by total quantity, highest threshold first.
VOLUME_DISCOUNTS_BP = ((100, 1000), (10, 500))


class Currency(enum.StrEnum):
    EUR = "EUR"
    GBP = "GBP"
    USD = "USD"


class LineItem(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"sku": "MUG-01", "quantity": 2, "unit_price_cents": 1250}]})

    sku: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$", description="Stock keeping unit, e.g. MUG-01.")]
    quantity: Annotated[int, Field(ge=1, le=10_000)]
    unit_price_cents: Annotated[int, Field(ge=0, le=100_000_000, description="Price of one unit, in cents.")]


class QuoteRequest(BaseModel):
    currency: Currency
    items: Annotated[list[LineItem], Field(min_length=1, max_length=100)]


class QuotedLine(BaseModel):
    sku: str
    quantity: int
    line_total_cents: int


class Quote(BaseModel):
    currency: Currency
    lines: list[QuotedLine]
    total_quantity: int
    subtotal_cents: int
    discount_bp: int = Field(description="Volume discount in basis points (500 = 5%).")
    discount_cents: int
    total_cents: int


class CurrencyList(BaseModel):
    currencies: list[Currency]


router = APIRouter(prefix="/api/v1", tags=["quotes"])


@router.get("/currencies", response_model=CurrencyList)
async def list_currencies() -> CurrencyList:
    return CurrencyList(currencies=list(Currency))


@router.post("/quotes", response_model=Quote)
async def create_quote(request: QuoteRequest) -> Quote:
    lines = [QuotedLine(sku=i.sku, quantity=i.quantity, line_total_cents=i.quantity * i.unit_price_cents)
             for i in request.items]
    subtotal = sum(line.line_total_cents for line in lines)
    total_quantity = sum(line.quantity for line in lines)
    discount_bp = volume_discount_bp(total_quantity)
    discount = (subtotal * discount_bp + 5_000) // 10_000  # basis points, rounded half up to a whole cent
    return Quote(currency=request.currency, lines=lines, total_quantity=total_quantity, subtotal_cents=subtotal,
                 discount_bp=discount_bp, discount_cents=discount, total_cents=subtotal - discount)


def volume_discount_bp(total_quantity: int) -> int:
    return next((bp for threshold, bp in VOLUME_DISCOUNTS_BP if total_quantity >= threshold), 0)
