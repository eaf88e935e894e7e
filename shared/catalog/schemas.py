"""Request and response shapes for categories and products (never the table classes themselves)."""

from decimal import Decimal
from typing import Annotated, Self

from pydantic import StringConstraints, field_validator, model_validator
from sqlmodel import Field, SQLModel

from shared.schemas import FromText, RowId, Strict, omittable

CategoryName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ProductName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

# Money is exact: NUMERIC(12, 2) in the table, Decimal here, a string in JSON.
CENT = Decimal("0.01")


class CategoryCreate(Strict):
    name: CategoryName
    description: str | None = Field(default=None, max_length=2000)
    parent_id: RowId | None = None


class CategoryUpdate(Strict):
    """A partial update: rename, redescribe, or move (`parent_id`; null moves it to the top)."""

    name: CategoryName | None = omittable()
    description: str | None = Field(default=None, max_length=2000)
    parent_id: RowId | None = None

    @model_validator(mode="after")
    def name_cannot_be_null(self) -> Self:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null")
        return self


class CategoryRead(SQLModel):
    id: int
    name: str
    description: str | None
    is_active: bool
    parent_id: int | None


class CategoryNode(CategoryRead):
    """A category with its whole subtree, children sorted by name."""

    children: list["CategoryNode"] = []


class ProductCreate(Strict):
    name: ProductName
    price: Annotated[Decimal, FromText] = Field(ge=0, max_digits=12, decimal_places=2)
    category_id: RowId | None = None

    @field_validator("price")
    @classmethod
    def to_cents(cls, price: Decimal) -> Decimal:
        """Always two decimals, so the response to the POST reads like every later GET ("10.00")."""
        return price.quantize(CENT)


class ProductRead(SQLModel):
    id: int
    name: str
    # Serialized as a JSON string ("19.99"): a float could not hold every price exactly.
    price: Decimal
    category_id: int | None
